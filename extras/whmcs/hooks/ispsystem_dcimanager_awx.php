<?php
/**
 * ispsystem.dcimanager: start AWX / Automation Controller jobs, or post events to Event-Driven Ansible,
 * from WHMCS module events of products that stay on WHMCS's "Auto Release" module (the fallback for a
 * WHMCS that cannot add the ispsystem_dcimanager provisioning module; docs/migration.md).
 *
 * Copy this file into WHMCS's includes/hooks/ directory, AND the folder modules/servers/ispsystem_dcimanager/
 * (the provisioning module, whose lib/automation.php this hook uses; the folder does nothing on its own
 * until a product uses the module). Settings: ispsystem_dcimanager_awx.config.php next to this file (made
 * from ispsystem_dcimanager_awx.config.php.example), or environment variables. The whole set-up is
 * described in docs/awx.md and docs/eda.md of the ispsystem.dcimanager Ansible collection.
 *
 *   WHMCS hook             AWX job template: converge (recommended)     or, before it, one per action
 *   AfterModuleCreate      {"service_id": N, "server_id": S,             provision  {"service_id": N}
 *                           "dedicated_server_new_service": true}
 *   AfterModuleSuspend     {"service_id": N, "server_id": S}             suspend
 *   AfterModuleUnsuspend   {"service_id": N, "server_id": S}             unsuspend
 *   AfterModuleTerminate   {"service_id": N, "server_id": S}             terminate
 *
 * (server_id: the service's WHMCS server entry, left out when it has none.) With job_templates.converge
 * set, every action launches that one template: the playbook reads WHMCS's status when it runs, so two
 * jobs of one service in any order end as WHMCS says.
 *
 * WHMCS runs these hooks only after a provisioning module's action succeeded, so the product
 * needs a module (WHMCS's own "Auto Release" module does, with every action set to "None").
 * Services of the ispsystem_dcimanager module are left to that module's own hooks, so nothing runs twice.
 *
 * With eda_url set, the hook also (or, without awx_url, only) posts each event to the
 * ispsystem.dcimanager.whmcs event source of ansible-rulebook (Event-Driven Ansible, docs/eda.md):
 *
 *   POST {eda_url}
 *   X-Ispsystem-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with eda_secret>
 *   {"event_id": "whmcs-push-<random>", "timestamp": <unix time>, "hook": "AfterModuleCreate",
 *    "action": "create", "service_id": N, "product_id": P, "client_id": C, "server_id": S}
 *
 * The hook only asks AWX to start the job and does not wait for it: a WHMCS page or cron run
 * must not hang for the minutes an OS install takes. Whatever goes wrong is written to WHMCS's
 * activity log and never stops WHMCS; the scheduled `reconcile` job in AWX catches up with
 * any launch that was lost.
 *
 * Needs PHP 8.1 or newer and PHP's curl extension.
 */

namespace IspsystemDcimanager\AwxHook;

use IspsystemDcimanager\Automation as A;

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

const LOG_PREFIX = 'ispsystem.dcimanager AWX: ';
const CONFIG_FILE = 'ispsystem_dcimanager_awx.config.php';
const LIBRARY = 'modules/servers/ispsystem_dcimanager/lib/automation.php';

/**
 * Where the shared library is: below WHMCS's root (ROOTDIR, or two levels above includes/hooks/).
 */
function library_path(): string
{
    $root = defined('ROOTDIR') ? ROOTDIR : dirname(__DIR__, 2);
    return rtrim($root, '/\\') . DIRECTORY_SEPARATOR . LIBRARY;
}

/**
 * Act on one hook call. Never throws.
 *
 * @param string        $hook   the WHMCS hook name (a key of Automation\HOOK_ACTIONS)
 * @param mixed         $vars   what WHMCS passed to the hook
 * @param array|null    $config settings (null: the config file next to this hook, and the environment)
 * @param callable|null $send   transport, function (array $transport, array $request): array (null: curl_send)
 * @param callable|null $log    function (string $message, int $clientId) (null: log_line)
 */
function handle(string $hook, $vars, ?array $config = null, ?callable $send = null, ?callable $log = null): void
{
    $log = $log ?? 'IspsystemDcimanager\\Automation\\log_line';
    $send = $send ?? 'IspsystemDcimanager\\Automation\\curl_send';
    $token = '';
    $secret = '';
    try {
        if (!isset(A\HOOK_ACTIONS[$hook])) {
            return;
        }
        $service = A\service_from_vars($vars);
        if ($service['module'] === A\MODULE_NAME) {
            // The provisioning module's own hooks start its work: nothing runs twice.
            return;
        }
        $problems = [];
        if ($config === null) {
            list($config, $problems) = A\load_config(__DIR__ . DIRECTORY_SEPARATOR . CONFIG_FILE);
        }
        $token = $config['token'];
        $secret = $config['eda_secret'];
        $filtered = $config['product_ids'] || $config['modules'];
        if (!A\service_selected($config, $service) && ($filtered || $service['addon_id'] > 0)) {
            // Other products are not ours: say nothing about them. (With no filter at all the
            // set-up is incomplete, which the checks report below.)
            return;
        }
        if ($problems) {
            // A broken config file: act on none of its settings.
            $log(LOG_PREFIX . A\HOOK_ACTIONS[$hook] . ' of service #' . $service['service_id'] . ' NOT launched: ' . implode('; ', $problems), $service['client_id']);
            return;
        }
        $lines = A\dispatch($config, $hook, $service, $send);
        foreach ($lines as $line) {
            $log(A\redact($line, $token, $secret), $service['client_id']);
        }
    } catch (\Throwable $error) {
        // A bug here must never break the WHMCS action that triggered the hook.
        try {
            $log(A\redact(LOG_PREFIX . $hook . ' failed: ' . get_class($error) . ': ' . $error->getMessage(), $token, $secret), 0);
        } catch (\Throwable $ignored) {
            // Nothing more can be done without risking WHMCS's own flow.
        }
    }
}

if (function_exists('add_hook')) {
    if (is_file(library_path())) {
        require_once library_path();
        foreach (array_keys(A\HOOK_ACTIONS) as $hookName) {
            add_hook($hookName, 1, function ($vars) use ($hookName) {
                handle($hookName, $vars);
            });
        }
        unset($hookName);
    } else {
        // Without its library the hook can do nothing: say so on every module action, where an admin looks.
        foreach (['AfterModuleCreate', 'AfterModuleSuspend', 'AfterModuleUnsuspend', 'AfterModuleTerminate'] as $hookName) {
            add_hook($hookName, 1, function ($vars) use ($hookName) {
                if (function_exists('logActivity')) {
                    \logActivity(LOG_PREFIX . $hookName . ' not handled: ' . library_path()
                        . ' is missing; copy the folder modules/servers/ispsystem_dcimanager/ into WHMCS (docs/awx.md)', 0);
                }
            });
        }
        unset($hookName);
    }
}
