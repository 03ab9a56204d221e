<?php
/**
 * ispsystem_dcimanager: a WHMCS provisioning (server) module for dedicated servers on DCImanager 5 panels,
 * whose work is done by the ispsystem.dcimanager Ansible collection (AWX, or Event-Driven Ansible).
 *
 * Install: copy this folder to WHMCS's modules/servers/, fill in ispsystem_dcimanager.config.php (from the
 * .example next to this file) or the ISPSYSTEM_AWX_* environment variables, add a server of the type
 * "DCImanager 5 (Ansible)" per panel, and choose the module on the products (docs/whmcs-module.md).
 *
 * What each function does is in lib/module.php; the transport (AWX launches, signed event posts) is
 * lib/automation.php, shared with the standalone hook includes/hooks/ispsystem_dcimanager_awx.php.
 *
 * Needs PHP 8.1 or newer and PHP's curl extension; nothing else.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

require_once __DIR__ . '/lib/automation.php';
require_once __DIR__ . '/lib/panel.php';
require_once __DIR__ . '/lib/module.php';

use IspsystemDcimanager\Module as M;

function ispsystem_dcimanager_MetaData()
{
    return [
        'DisplayName' => 'DCImanager 5 (Ansible)',
        'APIVersion' => '1.1',
        'RequiresServer' => true,
        'DefaultSSLPort' => '1500',
        'DefaultNonSSLPort' => '1500',
        'ServiceSingleSignOnLabel' => 'Log in to the server control panel',
        'AdminSingleSignOnLabel' => 'Log in to DCImanager as the server entry\'s user',
    ];
}

/**
 * The product's module settings (configoption1..7), in the order of ISPsystem's module (1 to 6), so a product
 * moved from it keeps its values. WHMCS's API does not show them to Ansible: the runs read the same values
 * from dedicated_server_products, and the service's admin tab shows the entry they need.
 */
function ispsystem_dcimanager_ConfigOptions()
{
    return [
        'Package Name' => [
            'Type' => 'text', 'Size' => '25',
            'Description' => 'the server configuration: DCImanager\'s "Configuration" or "Server type" of the servers to sell',
        ],
        'Operation system' => [
            'Type' => 'text', 'Size' => '40',
            'Description' => 'OS template name (func=osmgr); a configurable option os / OS / ostemplate wins',
        ],
        'Recipe' => [
            'Type' => 'text', 'Size' => '40', 'Default' => 'null',
            'Description' => 'null, #local__NAME or REPOSITORY__NAME; a configurable option recipe wins',
        ],
        'Don\'t wait the OS install' => [
            'Type' => 'yesno', 'Default' => 'on',
            'Description' => 'the run writes the dedicated IP (and Create returns) once the install has started, not when it has finished',
        ],
        'Domain template' => [
            'Type' => 'text', 'Size' => '40',
            'Description' => '@ID@ = service id, @DOMAIN@ = the order\'s domain; empty: the domain, else @ID@.domain',
        ],
        'IP address group' => [
            'Type' => 'text', 'Size' => '20', 'Default' => 'public',
            'Description' => 'the pool the extra addresses (configurable options IP, IPv6) come from',
        ],
        'Create waits (seconds)' => [
            'Type' => 'text', 'Size' => '6', 'Default' => '60',
            'Description' => 'how long Create waits for the dedicated IP before the service stays Pending (and ModuleCreate completes it later); within PHP\'s and the web server\'s time limits',
        ],
    ];
}

function ispsystem_dcimanager_CreateAccount(array $params)
{
    return M\create_account($params);
}

function ispsystem_dcimanager_SuspendAccount(array $params)
{
    return M\status_change($params, 'SuspendAccount');
}

function ispsystem_dcimanager_UnsuspendAccount(array $params)
{
    return M\status_change($params, 'UnsuspendAccount');
}

function ispsystem_dcimanager_TerminateAccount(array $params)
{
    return M\status_change($params, 'TerminateAccount');
}

function ispsystem_dcimanager_TestConnection(array $params)
{
    return M\test_connection($params);
}

function ispsystem_dcimanager_ServiceSingleSignOn(array $params)
{
    return M\service_sso($params);
}

function ispsystem_dcimanager_AdminSingleSignOn(array $params)
{
    return M\admin_sso($params);
}

function ispsystem_dcimanager_AdminServicesTabFields(array $params)
{
    return M\admin_tab($params);
}

function ispsystem_dcimanager_ClientAreaCustomButtonArray()
{
    return ['Reboot' => 'reboot', 'Power off' => 'poweroff', 'Power on' => 'poweron'];
}

function ispsystem_dcimanager_AdminCustomButtonArray()
{
    return ['Reboot' => 'adminreboot', 'Power off' => 'adminpoweroff', 'Power on' => 'adminpoweron', 'Reinstall OS' => 'adminreinstall'];
}

function ispsystem_dcimanager_reboot(array $params)
{
    return M\server_control($params, 'reboot');
}

function ispsystem_dcimanager_poweroff(array $params)
{
    return M\server_control($params, 'poweroff');
}

function ispsystem_dcimanager_poweron(array $params)
{
    return M\server_control($params, 'poweron');
}

function ispsystem_dcimanager_adminreboot(array $params)
{
    return M\server_control($params, 'adminreboot');
}

function ispsystem_dcimanager_adminpoweroff(array $params)
{
    return M\server_control($params, 'adminpoweroff');
}

function ispsystem_dcimanager_adminpoweron(array $params)
{
    return M\server_control($params, 'adminpoweron');
}

function ispsystem_dcimanager_adminreinstall(array $params)
{
    return M\server_control($params, 'adminreinstall');
}
