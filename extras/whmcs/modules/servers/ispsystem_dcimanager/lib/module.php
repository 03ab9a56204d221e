<?php
/**
 * ispsystem.dcimanager: what the provisioning module's functions do (ispsystem_dcimanager.php only calls these).
 *
 * The module hands the work to Ansible and keeps WHMCS's meaning of each action:
 *   CreateAccount      starts the converge run of the service (AWX job template "converge", or a post to the
 *                      event source) and waits, bounded, until WHMCS shows the service's dedicated IP, which the
 *                      run writes; success only then, else the run's error (the service stays Pending).
 *   Suspend, Unsuspend, Terminate
 *                      succeed at once; the module's hooks.php starts the converge from the AfterModule* hook,
 *                      when WHMCS has saved the new status (a run started earlier could read the old one).
 *   buttons            reboot, power off / on, reinstall (admin only): the playbook server_control.
 *   single sign-on     a one-time key from the panel (session.newkey) and the login link.
 *   admin tab          what the panel shows of the service's server (cached briefly).
 *   TestConnection     the panel's credentials and the route to AWX / the event source.
 *
 * Secrets (the panel's password, the AWX token, the event source's secret, the service's password, login
 * keys) are never written to the Module Log: every logModuleCall gets them in its replace list, and the
 * requests logged carry none of them in the first place.
 */

namespace IspsystemDcimanager\Module;

use IspsystemDcimanager\Automation as A;
use IspsystemDcimanager\Panel as P;

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

const CONFIG_FILE = 'ispsystem_dcimanager.config.php';
const LOG_PREFIX = 'ispsystem.dcimanager module: ';
/** Lines the module and the runs write into a service's admin notes start with this. */
const NOTE_PREFIX = 'ispsystem-dcimanager: ';
/** Written by CreateAccount when it stops waiting; the run that then provisions the service calls ModuleCreate and removes it. */
const NOTE_GAVE_UP = 'create gave up';
/** Written by a run that failed for a service of this module: "ispsystem-dcimanager: run failed <UTC ISO time>: <reason>". */
const NOTE_RUN_FAILED = 'run failed';
/** CreateAccount's wait (seconds) when the product does not set one, and the longest it accepts. */
const DEFAULT_CREATE_WAIT = 60;
const MAX_CREATE_WAIT = 3600;
/** Seconds kept free below PHP's time limit, for WHMCS to save the outcome. */
const TIME_MARGIN = 5;
/** How long a button waits for its job, and how long the admin tab keeps what it read. */
const BUTTON_WAIT = 15;
const TAB_CACHE_SECONDS = 60;
/** Button function => [operation of the playbook server_control, who asked]. */
const BUTTONS = [
    'reboot' => ['reboot', 'client'],
    'poweroff' => ['power_off', 'client'],
    'poweron' => ['power_on', 'client'],
    'adminreboot' => ['reboot', 'admin'],
    'adminpoweroff' => ['power_off', 'admin'],
    'adminpoweron' => ['power_on', 'admin'],
    'adminreinstall' => ['reinstall', 'admin'],
];

/**
 * An expected failure: its message goes to WHMCS as the function's answer (to an admin, or a customer for
 * the client-area functions). Never holds a secret.
 */
class ModuleError extends \RuntimeException
{
}

// --- the context every function works in --------------------------------------------------------------

/**
 * Settings, transport and the secrets to scrub: ['config', 'send', 'secrets', 'sleep', 'now'].
 *
 * The tests replace 'send' (and may replace 'sleep' and 'now') through $GLOBALS['ispsystem_dcimanager_test'].
 */
function context(array $params = []): array
{
    list($config, $problems) = A\load_config(dirname(__DIR__) . DIRECTORY_SEPARATOR . CONFIG_FILE);
    if ($problems) {
        throw new ModuleError(implode('; ', $problems));
    }
    $overrides = $GLOBALS['ispsystem_dcimanager_test'] ?? [];
    $ctx = [
        'config' => $config,
        'send' => $overrides['send'] ?? 'IspsystemDcimanager\\Automation\\curl_send',
        'sleep' => $overrides['sleep'] ?? function (float $seconds) {
            usleep((int) round($seconds * 1000000));
        },
        'now' => $overrides['now'] ?? function (): float {
            return microtime(true);
        },
        'secrets' => array_values(array_filter([
            $config['token'],
            $config['eda_secret'],
            (string) ($params['serverpassword'] ?? ''),
            (string) ($params['password'] ?? ''),
        ], 'strlen')),
    ];
    return $ctx;
}

/** Write one entry to WHMCS's Module Log, with every secret of the context in the replace list. */
function module_log(array $ctx, string $action, $request, $response, $processed = null): void
{
    if (function_exists('logModuleCall')) {
        \logModuleCall(A\MODULE_NAME, $action, $request, $response, $processed, $ctx['secrets']);
    }
}

/**
 * The context's transport, logging each request (without its headers: the AWX token travels in one) and
 * its answer to the Module Log under $action.
 */
function logged_send(array &$ctx, string $action): callable
{
    return function (array $transport, array $request) use (&$ctx, $action) {
        $answer = ($ctx['send'])($transport, $request);
        module_log($ctx, $action, ['method' => $request['method'] ?? 'POST', 'url' => $request['url'], 'body' => $request['body']],
            $answer['error'] !== '' ? $answer['error'] : 'HTTP ' . $answer['status'] . "\n" . $answer['body']);
        return $answer;
    };
}

/** The panel's log function for Panel\call(): each call to the Module Log. */
function panel_log(array &$ctx): callable
{
    return function (string $func, array $request, string $response, $processed) use (&$ctx) {
        module_log($ctx, 'DCImanager ' . $func, $request, $response);
    };
}

/** Run $work, turning every failure into the message WHMCS shows; logs unexpected ones. */
function guarded(string $action, array $params, callable $work)
{
    try {
        return $work();
    } catch (ModuleError | P\PanelError $error) {
        return $error->getMessage();
    } catch (\Throwable $error) {
        // A bug: the Module Log gets the details, WHMCS a short message (never a stack trace).
        if (function_exists('logModuleCall')) {
            \logModuleCall(A\MODULE_NAME, $action, ['serviceid' => $params['serviceid'] ?? null], get_class($error) . ': ' . $error->getMessage(), null,
                array_values(array_filter([(string) ($params['serverpassword'] ?? ''), (string) ($params['password'] ?? '')], 'strlen')));
        }
        return $action . ' failed: an internal error of the ispsystem_dcimanager module (' . get_class($error) . '); see the Module Log';
    }
}

// --- WHMCS -------------------------------------------------------------------------------------------

/** One call of WHMCS's internal API; throws ModuleError on an error answer. */
function whmcs(string $command, array $values): array
{
    if (!function_exists('localAPI')) {
        throw new ModuleError('WHMCS\'s localAPI() is not available');
    }
    $answer = \localAPI($command, $values);
    if (!is_array($answer) || ($answer['result'] ?? '') !== 'success') {
        throw new ModuleError('WHMCS refused ' . $command . ': ' . (is_array($answer) ? (string) ($answer['message'] ?? 'no message') : 'no answer'));
    }
    return $answer;
}

/** The service as WHMCS shows it now (GetClientsProducts): status, dedicatedip, notes, ... */
function read_service(int $service_id): array
{
    $answer = whmcs('GetClientsProducts', ['serviceid' => $service_id, 'stats' => false]);
    $products = $answer['products'] ?? '';
    $list = is_array($products) ? ($products['product'] ?? []) : [];
    if (isset($list['id'])) {
        $list = [$list]; // one service, not in a list
    }
    foreach ((array) $list as $product) {
        if (is_array($product) && (int) ($product['id'] ?? 0) === $service_id) {
            return $product;
        }
    }
    throw new ModuleError('WHMCS has no service #' . $service_id);
}

/** The service's status: from the module parameters, else as WHMCS shows it now. */
function status_of(array $params): string
{
    $status = trim((string) ($params['status'] ?? ''));
    if ($status === '' && (int) ($params['serviceid'] ?? 0) > 0) {
        $status = (string) (read_service((int) $params['serviceid'])['status'] ?? '');
    }
    return $status;
}

/** The UTC time as the notes lines carry it. */
function utc_now(array $ctx): string
{
    return gmdate('Y-m-d\TH:i:s\Z', (int) ($ctx['now'])());
}

/** The time of the newest "ispsystem-dcimanager: <what> <time>..." line of the notes, and the rest of the line. */
function note_line(string $notes, string $what): ?array
{
    $found = null;
    foreach (preg_split('/\r?\n/', $notes) as $line) {
        if (preg_match('/^' . preg_quote(NOTE_PREFIX . $what, '/') . ' (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ):?\s*(.*)$/', trim($line), $m)) {
            $time = strtotime($m[1]);
            if ($found === null || $time >= $found['time']) {
                $found = ['time' => $time, 'text' => $m[2]];
            }
        }
    }
    return $found;
}

// --- where the work goes -------------------------------------------------------------------------------

/** 'awx', 'eda', or 'both' for the converge, as configured; throws when neither is. */
function route(array $config, string $template = 'converge'): string
{
    $awx = $config['awx_url'] !== '' || $config['token'] !== '';
    $eda = $config['eda_url'] !== '';
    if (!$awx && !$eda) {
        throw new ModuleError('the ispsystem_dcimanager module has no route to Ansible: set awx_url, token and job_templates.' . $template
            . ' (AWX), or eda_url and eda_secret (the event source), in ' . CONFIG_FILE . ' or the ISPSYSTEM_AWX_* environment variables');
    }
    $problems = [];
    if ($awx) {
        $problems = array_merge($problems, A\awx_problems($config, $template, false));
    }
    if ($eda) {
        $problems = array_merge($problems, A\eda_problems($config, false));
    }
    if ($problems) {
        throw new ModuleError('the ispsystem_dcimanager module cannot start ' . $template . ': ' . implode('; ', $problems));
    }
    return $awx && $eda ? 'both' : ($awx ? 'awx' : 'eda');
}

/**
 * Start one playbook run for a service: the AWX template and / or an event. Returns ['job' => ?int,
 * 'event_id' => ?string, 'lines' => [...]]; throws ModuleError when nothing could be started.
 */
function start_run(array &$ctx, string $route, string $template, array $extra_vars, array $event, string $what, string $action): array
{
    $config = $ctx['config'];
    $started = ['job' => null, 'event_id' => null, 'lines' => []];
    $failures = [];
    if ($route === 'eda' || $route === 'both') {
        $posted = A\post_event($config, $event, $what, logged_send($ctx, $action . ' (event source)'));
        $started['lines'][] = $posted['line'];
        if ($posted['ok']) {
            $started['event_id'] = $posted['event_id'];
        } else {
            $failures[] = $posted['line'];
        }
    }
    if ($route === 'awx' || $route === 'both') {
        $launched = A\launch($config, $template, $extra_vars, $what, logged_send($ctx, $action . ' (AWX)'));
        $started['lines'][] = $launched['line'];
        if ($launched['ok']) {
            $started['job'] = $launched['job'];
        } else {
            $failures[] = $launched['line'];
        }
    }
    foreach ($started['lines'] as $line) {
        A\log_line(A\redact($line, ...$ctx['secrets']), (int) $event['client_id']);
    }
    if ($started['job'] === null && $started['event_id'] === null) {
        throw new ModuleError(A\redact(implode('; ', $failures), ...$ctx['secrets']));
    }
    return $started;
}

// --- CreateAccount -----------------------------------------------------------------------------------

/** The seconds CreateAccount may wait: the product's setting, within PHP's time limit. */
function create_wait(array $params, array $ctx): int
{
    $wait = A\positive_int(trim((string) ($params['configoption7'] ?? '')));
    $wait = $wait > 0 ? min($wait, MAX_CREATE_WAIT) : DEFAULT_CREATE_WAIT;
    $limit = (int) ini_get('max_execution_time');
    if ($limit > 0) {
        // PHP (or WHMCS, which may raise it) gives the whole request this much; WHMCS must still save the outcome.
        $begun = (float) ($_SERVER['REQUEST_TIME_FLOAT'] ?? ($ctx['now'])());
        $wait = max(0, min($wait, (int) floor($limit - (($ctx['now'])() - $begun) - TIME_MARGIN)));
    }
    return $wait;
}

/**
 * One of the create_max_waiting slots, held until the handle is closed; null when all are taken (an order
 * day). Per WHMCS host: a lock file each in the system's temporary directory.
 */
function create_slot(array $config)
{
    if ($config['create_max_waiting'] === 0) {
        return true;
    }
    $dir = $GLOBALS['ispsystem_dcimanager_test']['slot_dir'] ?? sys_get_temp_dir();
    for ($slot = 1; $slot <= $config['create_max_waiting']; $slot++) {
        $handle = @fopen(rtrim($dir, '/\\') . DIRECTORY_SEPARATOR . 'ispsystem_dcimanager_create_' . $slot . '.lock', 'c');
        if ($handle !== false && flock($handle, LOCK_EX | LOCK_NB)) {
            return $handle;
        }
        if ($handle !== false) {
            fclose($handle);
        }
    }
    return null;
}

/**
 * CreateAccount: start the converge of the new service and wait until WHMCS shows its dedicated IP.
 */
function create_account(array $params): string
{
    return guarded('CreateAccount', $params, function () use ($params) {
        $ctx = context($params);
        $service = A\service_from_vars($params);
        if ($service['service_id'] === 0) {
            throw new ModuleError('WHMCS gave no service id to CreateAccount');
        }
        $sid = $service['service_id'];
        $route = route($ctx['config']);
        $now = $ctx['now'];
        $begun = $now();
        $wait = create_wait($params, $ctx);

        $current = read_service($sid);
        $ip = trim((string) ($current['dedicatedip'] ?? ''));
        if ($ip !== '' && note_line((string) ($current['notes'] ?? ''), NOTE_GAVE_UP) !== null) {
            // A run finished what an earlier CreateAccount gave up on, and calls ModuleCreate now: done.
            module_log($ctx, 'CreateAccount', ['serviceid' => $sid], 'WHMCS shows the dedicated IP ' . $ip . ' written by the run that finished after CreateAccount gave up');
            return 'success';
        }

        $what = 'converge (create) of service #' . $sid;
        $run = start_run($ctx, $route, 'converge', A\converge_vars($service, 'create'),
            A\event_fields('AfterModuleCreate', 'create', $service), $what, 'CreateAccount');
        if ($ip !== '') {
            // WHMCS already shows an address (a Create pressed again): the run converges the panel, nothing to wait for.
            module_log($ctx, 'CreateAccount', ['serviceid' => $sid], 'WHMCS already shows the dedicated IP ' . $ip . '; not waiting');
            return 'success';
        }
        $slot = create_slot($ctx['config']);
        if ($slot === null) {
            $wait = 0; // every slot waits already: this one leaves the rest to the run and ModuleCreate
        }
        $outcome = wait_for_address($ctx, $sid, $run, $begun, $wait, $route);
        if (is_resource($slot)) {
            fclose($slot);
        }
        if ($outcome === 'success') {
            return 'success';
        }
        if ($outcome !== null) {
            return $outcome; // the run failed: its error, the service stays Pending
        }
        // Out of time: the run goes on; it completes the activation through ModuleCreate.
        $stamp = utc_now($ctx);
        $notes = rtrim((string) (read_service($sid)['notes'] ?? ''));
        whmcs('UpdateClientProduct', ['serviceid' => $sid, 'notes' => ($notes === '' ? '' : $notes . "\n") . NOTE_PREFIX . NOTE_GAVE_UP . ' ' . $stamp]);
        $by = $run['job'] !== null ? 'AWX job ' . $run['job'] : 'the event source (event ' . $run['event_id'] . ')';
        $why = $slot === null
            ? 'all ' . $ctx['config']['create_max_waiting'] . ' create_max_waiting slots of this WHMCS are waiting already (many orders at once)'
            : 'WHMCS shows no dedicated IP after ' . $wait . ' s';
        $message = 'CreateAccount stopped waiting: ' . $why . '. The run goes on in ' . $by
            . ' and completes the activation through ModuleCreate when the server is there; the service stays Pending until then';
        module_log($ctx, 'CreateAccount', ['serviceid' => $sid, 'wait' => $wait], $message);
        return $message;
    });
}

/**
 * Poll WHMCS (and the AWX job) until the service has a dedicated IP: 'success'; the run's error (a string);
 * or null when the time ran out.
 */
function wait_for_address(array &$ctx, int $sid, array $run, float $begun, int $wait, string $route): ?string
{
    $now = $ctx['now'];
    $pause = 1.0;
    $polls = 0;
    $job_state = '';
    while (true) {
        $service = read_service($sid);
        $polls++;
        $ip = trim((string) ($service['dedicatedip'] ?? ''));
        if ($ip !== '') {
            module_log($ctx, 'CreateAccount', ['serviceid' => $sid, 'polls' => $polls], 'WHMCS shows the dedicated IP ' . $ip . ' after '
                . round($now() - $begun, 1) . ' s');
            return 'success';
        }
        $failed = note_line((string) ($service['notes'] ?? ''), NOTE_RUN_FAILED);
        if ($failed !== null && $failed['time'] >= floor($begun)) {
            $message = 'the run for service #' . $sid . ' failed: ' . $failed['text']
                . ($run['job'] !== null ? ' (AWX job ' . $run['job'] . ': ' . A\job_link($ctx['config'], $run['job']) . ')' : '');
            module_log($ctx, 'CreateAccount', ['serviceid' => $sid, 'polls' => $polls], $message);
            return $message;
        }
        if ($job_state === 'successful') {
            // The job ended and a fresh read of WHMCS still shows no address.
            $message = 'AWX job ' . $run['job'] . ' ended successfully, but WHMCS shows no dedicated IP for service #' . $sid
                . ': see the job (' . A\job_link($ctx['config'], $run['job']) . ')';
            module_log($ctx, 'CreateAccount', ['serviceid' => $sid, 'polls' => $polls], $message);
            return $message;
        }
        if ($run['job'] !== null) {
            $job = A\job_status($ctx['config'], $run['job'], $ctx['send']);
            $job_state = $job['status'];
            if (in_array($job_state, ['failed', 'error', 'canceled'], true)) {
                $output = A\job_output($ctx['config'], $run['job'], $ctx['send']);
                $message = A\redact('AWX job ' . $run['job'] . ' ' . $job_state . ': ' . $output . ' (' . A\job_link($ctx['config'], $run['job']) . ')', ...$ctx['secrets']);
                module_log($ctx, 'CreateAccount', ['serviceid' => $sid, 'polls' => $polls], $message);
                return $message;
            }
            if ($job_state === 'successful') {
                continue; // read WHMCS once more: the job may have written the address just before it ended
            }
        }
        $left = $begun + $wait - $now();
        if ($left <= 0) {
            return null;
        }
        ($ctx['sleep'])(min($pause, $left));
        $pause = min($pause * 1.5, 3.0);
    }
}

// --- Suspend, Unsuspend, Terminate ---------------------------------------------------------------------

/**
 * Suspend / Unsuspend / Terminate: succeed when the converge can be started; hooks.php starts it once WHMCS
 * has saved the new status.
 */
function status_change(array $params, string $function): string
{
    return guarded($function, $params, function () use ($params) {
        $ctx = context($params);
        route($ctx['config']);
        return 'success';
    });
}

/**
 * The module's AfterModuleSuspend / AfterModuleUnsuspend / AfterModuleTerminate: the converge of a service of
 * this module, now that WHMCS shows its new status. Never throws (WHMCS has done its part already).
 */
function after_module(string $hook, $vars, ?callable $send = null): void
{
    $secrets = [];
    try {
        $service = A\service_from_vars($vars);
        if ($service['module'] !== A\MODULE_NAME || $service['addon_id'] > 0 || !isset(A\HOOK_ACTIONS[$hook])) {
            return;
        }
        $params = is_array($vars['params'] ?? null) ? $vars['params'] : (is_array($vars) ? $vars : []);
        $ctx = context($params);
        $secrets = $ctx['secrets'];
        $lines = A\dispatch($ctx['config'], $hook, $service, $send ?? logged_send($ctx, $hook), false, false);
        foreach ($lines as $line) {
            A\log_line(A\redact($line, ...$secrets), $service['client_id']);
        }
    } catch (\Throwable $error) {
        try {
            A\log_line(A\redact(LOG_PREFIX . $hook . ' failed: ' . get_class($error) . ': ' . $error->getMessage(), ...$secrets), 0);
        } catch (\Throwable $ignored) {
            // Nothing more can be done without risking WHMCS's own flow.
        }
    }
}

// --- buttons -------------------------------------------------------------------------------------------

/**
 * A button: the playbook server_control for this service (AWX template server_control, or an event), then a
 * short wait for the job (not for a reinstall).
 */
function server_control(array $params, string $button): string
{
    list($operation, $requested_by) = BUTTONS[$button];
    return guarded('server_control ' . $operation, $params, function () use ($params, $operation, $requested_by) {
        if ($requested_by === 'admin' && defined('CLIENTAREA')) {
            throw new ModuleError('this action is for WHMCS admins only');
        }
        $status = $requested_by === 'client' ? status_of($params) : '';
        if ($requested_by === 'client' && $status !== 'Active') {
            throw new ModuleError('The server can be controlled only while the service is Active (it is ' . ($status ?: 'not Active') . ').');
        }
        $ctx = context($params);
        $service = A\service_from_vars($params);
        $route = route($ctx['config'], 'server_control');
        $vars = ['service_id' => $service['service_id'], 'operation' => $operation, 'requested_by' => $requested_by];
        $event = array_merge(A\event_fields('', 'server_control', $service), ['operation' => $operation, 'requested_by' => $requested_by]);
        unset($event['hook']);
        $what = $operation . ' of service #' . $service['service_id'] . ' (' . $requested_by . ')';
        $run = start_run($ctx, $route, 'server_control', $vars, $event, $what, 'server_control ' . $operation);
        if ($run['job'] === null || $operation === 'reinstall') {
            return 'success'; // an install takes minutes: the job (or the run) is in the activity log
        }
        $now = $ctx['now'];
        $deadline = $now() + BUTTON_WAIT;
        $pause = 1.0;
        while (true) {
            $job = A\job_status($ctx['config'], $run['job'], $ctx['send']);
            if ($job['status'] === 'successful') {
                return 'success';
            }
            if (in_array($job['status'], ['failed', 'error', 'canceled'], true)) {
                $output = A\redact(A\job_output($ctx['config'], $run['job'], $ctx['send']), ...$ctx['secrets']);
                module_log($ctx, 'server_control ' . $operation, $vars, 'AWX job ' . $run['job'] . ' ' . $job['status'] . ': ' . $output);
                if ($requested_by === 'client') {
                    return 'The ' . str_replace('_', ' ', $operation) . ' did not succeed: ' . $output;
                }
                return $operation . ': AWX job ' . $run['job'] . ' ' . $job['status'] . ': ' . $output . ' (' . A\job_link($ctx['config'], $run['job']) . ')';
            }
            $left = $deadline - $now();
            if ($left <= 0) {
                return 'success'; // still running: the activity log has the job
            }
            ($ctx['sleep'])(min($pause, $left));
            $pause = min($pause * 1.5, 3.0);
        }
    });
}

// --- single sign-on ---------------------------------------------------------------------------------------

/** _ServiceSingleSignOn: log the service's DCImanager account in (for the customer, or an admin on their behalf). */
function service_sso(array $params): array
{
    return sso($params, 'ServiceSingleSignOn', function (array $params) {
        $status = status_of($params);
        if (in_array($status, ['Pending', 'Terminated', 'Cancelled', 'Fraud'], true)) {
            throw new ModuleError('The service is ' . $status . ': it has no server in the control panel.');
        }
        $login = trim((string) ($params['username'] ?? ''));
        if ($login === '') {
            throw new ModuleError('The service has no control panel account (no username) yet.');
        }
        return $login;
    });
}

/** _AdminSingleSignOn: log the server entry's own (admin) user in to its panel. */
function admin_sso(array $params): array
{
    return sso($params, 'AdminSingleSignOn', function (array $params) {
        return trim((string) ($params['serverusername'] ?? ''));
    });
}

function sso(array $params, string $action, callable $login_of): array
{
    $answer = guarded($action, $params, function () use ($params, $action, $login_of) {
        $login = $login_of($params);
        $ctx = context($params);
        $panel = P\panel_from_params($params);
        $key = P\new_login_key();
        $ctx['secrets'][] = $key; // the key logs in until it is used: scrub it from the Module Log
        $login_url = P\login_url($panel, $login, $ctx['config'], $ctx['send'], panel_log($ctx), $key);
        return ['success' => true, 'redirectTo' => $login_url['url']];
    });
    return is_array($answer) ? $answer : ['success' => false, 'errorMsg' => $answer];
}

// --- the admin tab -----------------------------------------------------------------------------------------

/** _AdminServicesTabFields: what the panel shows of the service's server (read only, cached briefly). */
function admin_tab(array $params): array
{
    $fields = guarded('AdminServicesTabFields', $params, function () use ($params) {
        $ctx = context($params);
        $panel = P\panel_from_params($params);
        $sid = (int) ($params['serviceid'] ?? 0);
        $service = read_service($sid);
        $ip = trim((string) ($service['dedicatedip'] ?? ''));
        $hostname = hostname_of($params);
        $cache = rtrim($GLOBALS['ispsystem_dcimanager_test']['cache_dir'] ?? sys_get_temp_dir(), '/\\') . DIRECTORY_SEPARATOR
            . 'ispsystem_dcimanager_tab_' . hash('sha256', $panel['url'] . '|' . $sid . '|' . $ip . '|' . $hostname) . '.json';
        $cached = is_file($cache) ? json_decode((string) @file_get_contents($cache), true) : null;
        if (is_array($cached) && ($cached['at'] ?? 0) > ($ctx['now'])() - TAB_CACHE_SECONDS) {
            $shown = $cached['shown'];
        } else {
            $shown = read_server_view($ctx, $panel, $ip, $hostname);
            @file_put_contents($cache, json_encode(['at' => ($ctx['now'])(), 'shown' => $shown]), LOCK_EX);
            @chmod($cache, 0600);
        }
        return $shown + ['Settings for runs' => settings_for_runs($params)];
    });
    if (!is_array($fields)) {
        return ['DCImanager' => htmlspecialchars($fields, ENT_QUOTES)];
    }
    $html = [];
    foreach ($fields as $label => $value) {
        $html[$label] = htmlspecialchars((string) $value, ENT_QUOTES);
    }
    return $html;
}

/** The rows of the admin tab from the panel: one server list read, and that server's form for its notes. */
function read_server_view(array &$ctx, array $panel, string $ip, string $hostname): array
{
    $rows = P\rows(P\call($panel, 'server', [], $ctx['config'], $ctx['send'], panel_log($ctx)));
    $row = P\find_server($rows, $ip, $hostname);
    if ($row === null) {
        return [
            'DCImanager server' => $ip !== '' ? 'no server on ' . $panel['url'] . ' has the address ' . $ip
                : 'none yet (no server on ' . $panel['url'] . ' carries ' . $hostname . ')',
        ];
    }
    $form = P\call($panel, 'server.edit', ['elid' => $row['id'] ?? ''], $ctx['config'], $ctx['send'], panel_log($ctx));
    $notes = ($node = P\child($form, 'notes')) !== null ? P\text($node) : '';
    return [
        'DCImanager server' => ($row['id'] ?? '?') . (($row['name'] ?? '') !== '' ? ' (' . $row['name'] . ')' : '') . ' on ' . $panel['url'],
        'State' => P\state_of($row),
        'Main address' => ($row['ip'] ?? '') . (($row['hostname'] ?? '') !== '' ? ' (' . $row['hostname'] . ')' : ''),
        'Package' => ($row['chassis_templ'] ?? '') !== '' ? $row['chassis_templ'] : ($row['type'] ?? ''),
        'OS' => P\os_of_notes($notes) ?: 'not recorded (installed before the collection managed it, or by hand)',
    ];
}

/**
 * The hostname a run gives the service's server: the product's domain template (module setting 5) with @ID@
 * and @DOMAIN@, else the order's domain, else "<id>.domain" (the role's rule, plugins/module_utils/_dedicated_server.py).
 */
function hostname_of(array $params): string
{
    $domain = trim((string) ($params['domain'] ?? ''));
    $id = (string) ($params['serviceid'] ?? '');
    $template = trim((string) ($params['configoption5'] ?? ''));
    if ($template === '') {
        $template = $domain !== '' ? '@DOMAIN@' : '@ID@.domain';
    }
    if ((strpos($template, '@ID@') !== false && $id === '') || (strpos($template, '@DOMAIN@') !== false && $domain === '')) {
        return '';
    }
    return trim(str_replace(['@ID@', '@DOMAIN@'], [$id, $domain], $template));
}

/**
 * The product's module settings as the dedicated_server_products entry the runs must have (WHMCS's API does
 * not show module settings to Ansible, so the same values live there too; docs/whmcs-module.md).
 */
function settings_for_runs(array $params): string
{
    $settings = [
        'package' => trim((string) ($params['configoption1'] ?? '')),
        'os_template' => trim((string) ($params['configoption2'] ?? '')),
        'recipe' => trim((string) ($params['configoption3'] ?? '')),
        'wait_for_install' => !in_array(strtolower(trim((string) ($params['configoption4'] ?? ''))), ['on', 'yes', '1', 'true'], true),
        'domain_template' => trim((string) ($params['configoption5'] ?? '')),
        'ip_group' => trim((string) ($params['configoption6'] ?? '')),
    ];
    $parts = [];
    foreach ($settings as $key => $value) {
        if ($value === '' || $value === true) {
            continue; // the default of the role
        }
        $parts[] = $key . ': ' . (is_bool($value) ? 'false' : json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));
    }
    return 'dedicated_server_products: {' . ((int) ($params['pid'] ?? 0)) . ': {' . implode(', ', $parts) . '}}';
}

// --- TestConnection -------------------------------------------------------------------------------------------

/** _TestConnection: the panel's credentials (an admin), and the route to AWX / the event source. */
function test_connection(array $params): array
{
    $answer = guarded('TestConnection', $params, function () use ($params) {
        $ctx = context($params);
        $panel = P\panel_from_params($params);
        $log = panel_log($ctx);
        $doc = P\call($panel, 'auth', ['username' => $panel['username'], 'password' => $panel['password']], $ctx['config'], $ctx['send'], $log, false);
        $auth = P\child($doc, 'auth');
        $level = $auth !== null ? (int) ($auth['attrs']['level'] ?? 0) : 0;
        if ($level > 0 && $level < 28) {
            throw new ModuleError('the panel user ' . $panel['username'] . ' is not an administrator (level ' . $level
                . '); single sign-on (session.newkey) needs an administrator');
        }
        $config = $ctx['config'];
        $route = route($config);
        $checks = [];
        if ($route === 'awx' || $route === 'both') {
            foreach (['converge', 'server_control'] as $template) {
                if ($config['job_templates'][$template] === 0) {
                    continue; // server_control: the buttons are optional (route() has checked converge)
                }
                $answer = (logged_send($ctx, 'TestConnection (AWX)'))(A\awx_transport($config), [
                    'method' => 'GET',
                    'url' => $config['awx_url'] . $config['api_path'] . '/job_templates/' . $config['job_templates'][$template] . '/',
                    'headers' => A\awx_headers($config),
                    'body' => '',
                ]);
                if ($answer['error'] !== '' || $answer['status'] !== 200) {
                    throw new ModuleError(A\redact('AWX does not show job template ' . $config['job_templates'][$template] . ' (' . $template . ') at ' . $config['awx_url'] . ': '
                        . ($answer['error'] ?: 'HTTP ' . $answer['status'] . ($answer['status'] === 401 ? ' (the token is wrong or expired)'
                        : ($answer['status'] === 404 || $answer['status'] === 403 ? ' (no such template, or the token\'s user may not see it)' : ''))), ...$ctx['secrets']));
                }
                $checks[] = 'AWX template ' . $template;
            }
        }
        if ($route === 'eda' || $route === 'both') {
            // A signed post with an action the source does not know: 422 means it checked the signature and
            // refused only the action (nothing is emitted); 401 means the secrets differ.
            $request = A\build_eda_request($config, ['action' => 'connection_test', 'service_id' => 0], 'whmcs-test-' . bin2hex(random_bytes(8)), time());
            $answer = (logged_send($ctx, 'TestConnection (event source)'))(A\eda_transport($config), $request);
            if ($answer['error'] !== '') {
                throw new ModuleError('cannot reach the event source at ' . $config['eda_url'] . ': ' . $answer['error']);
            }
            if ($answer['status'] === 401) {
                throw new ModuleError('the event source at ' . $config['eda_url'] . ' refused the signature: eda_secret differs from its hmac_secret');
            }
            if ($answer['status'] !== 422 && $answer['status'] !== 400) {
                throw new ModuleError('the event source at ' . $config['eda_url'] . ' answered HTTP ' . $answer['status'] . ' to a test post (expected 422)');
            }
            $checks[] = 'event source';
        }
        module_log($ctx, 'TestConnection', ['panel' => $panel['url']], 'panel user ' . $panel['username'] . ' logged in; reachable: ' . implode(', ', $checks));
        return ['success' => true, 'error' => ''];
    });
    return is_array($answer) ? $answer : ['success' => false, 'error' => $answer];
}
