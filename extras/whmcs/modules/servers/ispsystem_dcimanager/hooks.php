<?php
/**
 * ispsystem_dcimanager: the module's hooks (WHMCS loads hooks.php from the folder of a module in use).
 *
 * After WHMCS has suspended, unsuspended or terminated a service of this module (and saved its new status),
 * the service's converge run starts: the AWX job template "converge" with {"service_id": N, "server_id": S},
 * and / or a signed post to the event source, as configured. CreateAccount starts its own run (it waits for
 * it), so AfterModuleCreate starts nothing. Services of other modules are not touched here (the standalone
 * hook includes/hooks/ispsystem_dcimanager_awx.php serves the Auto Release products).
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

require_once __DIR__ . '/lib/automation.php';
require_once __DIR__ . '/lib/panel.php';
require_once __DIR__ . '/lib/module.php';

foreach (['AfterModuleSuspend', 'AfterModuleUnsuspend', 'AfterModuleTerminate'] as $ispsystemDcimanagerHook) {
    add_hook($ispsystemDcimanagerHook, 1, function ($vars) use ($ispsystemDcimanagerHook) {
        \IspsystemDcimanager\Module\after_module($ispsystemDcimanagerHook, $vars);
    });
}
unset($ispsystemDcimanagerHook);
