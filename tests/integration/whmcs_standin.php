<?php
/**
 * A stand-in for WHMCS that runs the provisioning module ispsystem_dcimanager the way WHMCS does, for
 * tests/integration/test_whmcs_module.py:
 *
 *   php whmcs_standin.php SCENARIO.json     prints one JSON document (below)
 *
 * What it models (and nothing more):
 *   - the module folder loaded from a WHMCS tree (ROOTDIR/modules/servers/ispsystem_dcimanager/), its hooks.php
 *     and the standalone hook of includes/hooks/ registered with add_hook();
 *   - a module command (Create, Suspend, Unsuspend, Terminate): the function gets WHMCS's $params (the
 *     service as the WHMCS simulator shows it, the product's module settings, the server entry); only when it
 *     returns "success" is the new status saved (PUT /_sim/module_event of the WHMCS simulator, W-MOD-1), and
 *     the AfterModule* hooks run after that; a failure keeps the status, logs "Module X Failed", queues an
 *     automatic action in WHMCS's module queue, and runs the AfterModule*Failed hooks;
 *   - the request's time limit: max_execution_time (given to php with -d) is what the module can read; a wall
 *     clock alarm of the same length kills the "request" as PHP-FPM's request_terminate_timeout would
 *     (nothing is saved then: WHMCS never learns the outcome);
 *   - logModuleCall (the Module Log: each entry as given, and as WHMCS stores it after its replace list),
 *     logActivity (the activity log), localAPI (the WHMCS simulator's API over HTTPS, as an admin);
 *   - the area: ADMINAREA or CLIENTAREA is defined as the scenario says.
 *
 * SCENARIO: {"root", "area": "admin"|"client"|"cron", "whmcs": {"api_url", "control_url", "identifier",
 *   "secret", "ca_file"}, "servers": {ID: {"hostname", "ipaddress", "port", "username", "password",
 *   "accesshash"}}, "products": {PID: {"module", "settings": [configoption1, ...]}}, "time_limit": seconds
 *   (0 = none), "test": {"slot_dir", "cache_dir"}, "steps": [{"do": "module"|"custom"|"sso"|"admin_sso"|"tab"|
 *   "test_connection"|"buttons", ...}]} ("without": parameter names a custom or sso step leaves out)
 * OUTPUT: {"results": [{"step", "result", "seconds"}], "module_log": [{"action", "raw", "stored"}], "activity":
 *   [{"message", "client_id"}], "hooks": [names run], "killed": null|step, "errors": [...]}
 */

$scenario = json_decode(file_get_contents($argv[1]), true);
define('WHMCS', true);
define('ROOTDIR', $scenario['root']);
if (($scenario['area'] ?? 'admin') === 'admin') {
    define('ADMINAREA', true);
} elseif ($scenario['area'] === 'client') {
    define('CLIENTAREA', true);
}

$GLOBALS['standin'] = [
    'hooks' => [],
    'results' => [],
    'module_log' => [],
    'activity' => [],
    'hooks_run' => [],
    'killed' => null,
    'errors' => [],
    'step' => null,
];
if (!empty($scenario['test'])) {
    $GLOBALS['ispsystem_dcimanager_test'] = $scenario['test'];
}

function standin_output(): void
{
    $s = $GLOBALS['standin'];
    echo json_encode([
        'results' => $s['results'],
        'module_log' => $s['module_log'],
        'activity' => $s['activity'],
        'hooks' => $s['hooks_run'],
        'killed' => $s['killed'],
        'errors' => $s['errors'],
    ], JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR);
}

// --- WHMCS's functions -----------------------------------------------------------------------------------

function add_hook($name, $priority, $callback)
{
    $GLOBALS['standin']['hooks'][] = ['name' => $name, 'priority' => $priority, 'callback' => $callback];
}

function run_hook($name, $vars)
{
    $GLOBALS['standin']['hooks_run'][] = $name;
    $hooks = array_filter($GLOBALS['standin']['hooks'], function ($hook) use ($name) {
        return $hook['name'] === $name;
    });
    usort($hooks, function ($a, $b) {
        return $a['priority'] <=> $b['priority'];
    });
    foreach ($hooks as $hook) {
        try {
            ($hook['callback'])($vars);
        } catch (Throwable $e) {
            $GLOBALS['standin']['errors'][] = 'hook ' . $name . ': ' . get_class($e) . ': ' . $e->getMessage();
        }
    }
}

function logActivity($message, $userId = 0)
{
    $GLOBALS['standin']['activity'][] = ['message' => $message, 'client_id' => (int) $userId];
}

/** WHMCS stores the entry with each replace-list string masked. */
function logModuleCall($module, $action, $requestString, $responseData, $processedData = '', $replaceVars = [])
{
    $text = function ($value) {
        return is_string($value) ? $value : print_r($value, true);
    };
    $raw = ['request' => $text($requestString), 'response' => $text($responseData), 'processed' => $text($processedData)];
    $stored = $raw;
    foreach ((array) $replaceVars as $secret) {
        if (is_string($secret) && $secret !== '') {
            foreach ($stored as $key => $value) {
                $stored[$key] = str_replace($secret, str_repeat('*', strlen($secret)), $value);
            }
        }
    }
    $GLOBALS['standin']['module_log'][] = ['module' => $module, 'action' => $action, 'raw' => $raw, 'stored' => $stored,
        'replace' => array_values(array_filter((array) $replaceVars, 'is_string'))];
}

function standin_post(string $url, string $body, string $method = 'POST', string $type = 'application/x-www-form-urlencoded'): array
{
    $whmcs = $GLOBALS['scenario']['whmcs'];
    $handle = curl_init($url);
    curl_setopt_array($handle, [
        CURLOPT_CUSTOMREQUEST => $method,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => ['Content-Type: ' . $type],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_CAINFO => $whmcs['ca_file'],
        CURLOPT_TIMEOUT => 30,
    ]);
    $answer = curl_exec($handle);
    $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
    $error = $answer === false ? curl_error($handle) : '';
    curl_close($handle);
    return ['status' => $status, 'body' => (string) $answer, 'error' => $error];
}

/** WHMCS's internal API: here, the WHMCS simulator's API as an admin. */
function localAPI($command, $values = [], $adminUser = '')
{
    $whmcs = $GLOBALS['scenario']['whmcs'];
    $form = array_merge(['action' => $command, 'identifier' => $whmcs['identifier'], 'secret' => $whmcs['secret'], 'responsetype' => 'json'], $values);
    $answer = standin_post($whmcs['api_url'], http_build_query($form));
    $data = json_decode($answer['body'], true);
    if (!is_array($data)) {
        return ['result' => 'error', 'message' => 'the stand-in could not reach the WHMCS simulator: ' . ($answer['error'] ?: 'HTTP ' . $answer['status'])];
    }
    return $data;
}

// --- what WHMCS does around a module function ----------------------------------------------------------------

function standin_service(int $sid): array
{
    $answer = localAPI('GetClientsProducts', ['serviceid' => $sid]);
    return $answer['products']['product'][0];
}

/** The module parameters WHMCS passes to every function of the module for this service. */
function standin_params(int $sid): array
{
    $scenario = $GLOBALS['scenario'];
    $service = standin_service($sid);
    $product = $scenario['products'][(string) $service['pid']] ?? ['module' => 'autorelease', 'settings' => []];
    $server = $scenario['servers'][(string) $service['serverid']] ?? null;
    $params = [
        'accountid' => (int) $service['id'],
        'serviceid' => (int) $service['id'],
        'userid' => (int) $service['clientid'],
        'pid' => (int) $service['pid'],
        'packageid' => (int) $service['pid'],
        'serverid' => (int) $service['serverid'],
        'domain' => $service['domain'],
        'username' => $service['username'],
        'password' => $service['password'],
        'producttype' => 'server',
        'moduletype' => $product['module'],
        'status' => $service['status'],
        'clientsdetails' => ['userid' => (int) $service['clientid'], 'email' => 'client' . $service['clientid'] . '@example.com'],
        'customfields' => [],
        'configoptions' => [],
        'server' => $server !== null,
    ];
    foreach (($service['configoptions']['configoption'] ?? []) as $option) {
        $params['configoptions'][$option['option']] = $option['value'];
    }
    foreach (array_values($product['settings']) as $index => $value) {
        $params['configoption' . ($index + 1)] = $value;
    }
    return array_merge($params, standin_server_params($server));
}

/** The server entry's part of the module parameters. */
function standin_server_params(?array $server): array
{
    return [
        'serverip' => $server['ipaddress'] ?? '',
        'serverhostname' => $server['hostname'] ?? '',
        'serverusername' => $server['username'] ?? '',
        'serverpassword' => $server['password'] ?? '',
        'serveraccesshash' => $server['accesshash'] ?? '',
        'serversecure' => true,
        'serverhttpprefix' => 'https',
        'serverport' => $server['port'] ?? '',
    ];
}

const STANDIN_ACTIONS = [
    'CreateAccount' => ['create', 'Create'],
    'SuspendAccount' => ['suspend', 'Suspend'],
    'UnsuspendAccount' => ['unsuspend', 'Unsuspend'],
    'TerminateAccount' => ['terminate', 'Terminate'],
];

/** A module command as WHMCS runs it: the function, then (on success only) the status and the hooks. */
function standin_module_command(string $function, int $sid, bool $automatic)
{
    $params = standin_params($sid);
    $module = $params['moduletype'];
    list($action, $word) = STANDIN_ACTIONS[$function];
    $callable = $module . '_' . $function;
    $result = function_exists($callable) ? $callable($params) : 'success'; // Auto Release: does nothing, succeeds
    $control = $GLOBALS['scenario']['whmcs']['control_url'] . '/module_event';
    if ($result === 'success') {
        standin_post($control, json_encode(['service_id' => $sid, 'action' => $action]), 'PUT', 'application/json');
        run_hook('AfterModule' . $word, ['params' => $params]);
    } else {
        standin_post($control, json_encode(['service_id' => $sid, 'action' => $action, 'error' => (string) $result, 'queue' => $automatic]), 'PUT', 'application/json');
        run_hook('AfterModule' . $word . 'Failed', ['params' => $params, 'failureResponseMessage' => $result]);
    }
    return $result;
}

// --- the run ----------------------------------------------------------------------------------------------------

$GLOBALS['scenario'] = $scenario;
foreach ($scenario['env'] ?? [] as $name => $value) {
    putenv($name . '=' . $value);
}

$limit = (int) ($scenario['time_limit'] ?? 0);
if ($limit > 0) {
    // PHP-FPM's request_terminate_timeout: the worker is killed, WHMCS saves nothing.
    pcntl_async_signals(true);
    pcntl_signal(SIGALRM, function () {
        $GLOBALS['standin']['killed'] = $GLOBALS['standin']['step'];
        standin_output();
        exit(0);
    });
    pcntl_alarm($limit);
}

// WHMCS loads every .php file of includes/hooks/ (a config file there only returns an array), then the hooks.php of
// the modules in use.
foreach (glob(ROOTDIR . '/includes/hooks/*.php') as $hookFile) {
    if (substr(basename($hookFile), 0, 1) !== '_') {
        include $hookFile;
    }
}
require ROOTDIR . '/modules/servers/ispsystem_dcimanager/ispsystem_dcimanager.php';
require ROOTDIR . '/modules/servers/ispsystem_dcimanager/hooks.php';

foreach ($scenario['steps'] as $index => $step) {
    $GLOBALS['standin']['step'] = $index;
    $started = microtime(true);
    try {
        switch ($step['do']) {
            case 'module':
                $result = standin_module_command($step['function'], (int) $step['service_id'], (bool) ($step['automatic'] ?? false));
                break;
            case 'custom':
                $result = ('ispsystem_dcimanager_' . $step['function'])(array_diff_key(standin_params((int) $step['service_id']), array_flip($step['without'] ?? [])));
                break;
            case 'sso':
                $result = ispsystem_dcimanager_ServiceSingleSignOn(array_diff_key(standin_params((int) $step['service_id']), array_flip($step['without'] ?? [])));
                break;
            case 'admin_sso':
                $result = ispsystem_dcimanager_AdminSingleSignOn(standin_server_params($scenario['servers'][(string) $step['server_id']]));
                break;
            case 'tab':
                $result = ispsystem_dcimanager_AdminServicesTabFields(standin_params((int) $step['service_id']));
                break;
            case 'test_connection':
                $result = ispsystem_dcimanager_TestConnection(standin_server_params($scenario['servers'][(string) $step['server_id']]));
                break;
            case 'buttons':
                $result = ['client' => ispsystem_dcimanager_ClientAreaCustomButtonArray(), 'admin' => ispsystem_dcimanager_AdminCustomButtonArray(),
                    'meta' => ispsystem_dcimanager_MetaData(), 'options' => array_keys(ispsystem_dcimanager_ConfigOptions())];
                break;
            default:
                throw new RuntimeException('unknown step ' . $step['do']);
        }
    } catch (Throwable $e) {
        // WHMCS would show a fatal error page: the module must never let one out.
        $result = null;
        $GLOBALS['standin']['errors'][] = 'step ' . $index . ': ' . get_class($e) . ': ' . $e->getMessage();
    }
    $GLOBALS['standin']['results'][] = ['step' => $index, 'result' => $result, 'seconds' => round(microtime(true) - $started, 3)];
}
$GLOBALS['standin']['step'] = null;
standin_output();
