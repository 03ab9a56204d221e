<?php
/**
 * ispsystem.dcimanager: start AWX / Automation Controller jobs from WHMCS module events.
 *
 * Copy this file into WHMCS's includes/hooks/ directory, and next to it
 * ispsystem_dcimanager_awx.config.php (made from ispsystem_dcimanager_awx.config.php.example),
 * or give the settings as environment variables. The whole set-up is described in docs/awx.md
 * of the ispsystem.dcimanager Ansible collection.
 *
 *   WHMCS hook             AWX job template       extra_vars
 *   AfterModuleCreate      provision              {"service_id": N}
 *   AfterModuleSuspend     suspend                {"service_id": N}
 *   AfterModuleUnsuspend   unsuspend              {"service_id": N}
 *   AfterModuleTerminate   terminate              {"service_id": N}
 *
 * WHMCS runs these hooks only after a provisioning module's action succeeded, so the product
 * needs a module (WHMCS's own "Auto Release" module does, with every action set to "None").
 *
 * With eda_url set, the hook also (or, without awx_url, only) posts each event to the
 * ispsystem.dcimanager.whmcs event source of ansible-rulebook (Event-Driven Ansible, docs/eda.md):
 *
 *   POST {eda_url}
 *   X-Ispsystem-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with eda_secret>
 *   {"event_id": "whmcs-push-<random>", "timestamp": <unix time>, "hook": "AfterModuleCreate",
 *    "action": "create", "service_id": N, "product_id": P, "client_id": C}
 *
 * The timestamp and the event id sit inside the signed body, so the source can refuse replays.
 *
 * The hook only asks AWX to start the job and does not wait for it: a WHMCS page or cron run
 * must not hang for the minutes an OS install takes. Whatever goes wrong is written to WHMCS's
 * activity log and never stops WHMCS; the scheduled `reconcile` job in AWX catches up with
 * any launch that was lost.
 *
 * Compatible with PHP 7.4 and newer. Needs PHP's curl extension.
 */

namespace IspsystemDcimanager\AwxHook;

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/** WHMCS hook name => the collection playbook (and settings key) it starts. */
const EVENTS = [
    'AfterModuleCreate' => 'provision',
    'AfterModuleSuspend' => 'suspend',
    'AfterModuleUnsuspend' => 'unsuspend',
    'AfterModuleTerminate' => 'terminate',
];

/** WHMCS hook name => the event source's action. */
const EDA_ACTIONS = [
    'AfterModuleCreate' => 'create',
    'AfterModuleSuspend' => 'suspend',
    'AfterModuleUnsuspend' => 'unsuspend',
    'AfterModuleTerminate' => 'terminate',
];

const LOG_PREFIX = 'ispsystem.dcimanager AWX: ';
const EDA_LOG_PREFIX = 'ispsystem.dcimanager EDA: ';
const EDA_SIGNATURE_HEADER = 'X-Ispsystem-Signature';
const CONFIG_FILE = 'ispsystem_dcimanager_awx.config.php';
const ENV_PREFIX = 'ISPSYSTEM_AWX_';

/**
 * The settings with their defaults; the config file and the environment override them.
 */
function default_config(): array
{
    return [
        'awx_url' => '',
        // Red Hat AAP 2.5+ serves the controller API through its gateway at /api/controller/v2.
        'api_path' => '/api/v2',
        'token' => '',
        'job_templates' => ['provision' => 0, 'suspend' => 0, 'unsuspend' => 0, 'terminate' => 0],
        'product_ids' => [],
        'modules' => [],
        'ca_file' => '',
        'connect_timeout' => 5,
        'timeout' => 15,
        'allow_http' => false,
        // Event-Driven Ansible: the ispsystem.dcimanager.whmcs event source (push mode).
        'eda_url' => '',
        'eda_secret' => '',
        'eda_ca_file' => '',
        'eda_connect_timeout' => 2,
        'eda_timeout' => 5,
    ];
}

/**
 * Merge the config file's array and the environment into one normalised settings array.
 *
 * An environment variable that is set and not empty wins over the file, so a deployment can
 * keep the token out of the WHMCS directory entirely.
 *
 * @param array $file what the config file returned ([] when there is none)
 * @param array $env  environment variables (name => value)
 */
function build_config(array $file, array $env): array
{
    $config = default_config();
    foreach ($file as $key => $value) {
        if (array_key_exists($key, $config)) {
            $config[$key] = $value;
        }
    }
    if (!is_array($config['job_templates'])) {
        $config['job_templates'] = [];
    }
    $config['job_templates'] = array_merge(default_config()['job_templates'], $config['job_templates']);

    $scalars = [
        'URL' => 'awx_url',
        'API_PATH' => 'api_path',
        'TOKEN' => 'token',
        'CA_FILE' => 'ca_file',
        'CONNECT_TIMEOUT' => 'connect_timeout',
        'TIMEOUT' => 'timeout',
        'ALLOW_HTTP' => 'allow_http',
        'PRODUCT_IDS' => 'product_ids',
        'MODULES' => 'modules',
        'EDA_URL' => 'eda_url',
        'EDA_SECRET' => 'eda_secret',
        'EDA_CA_FILE' => 'eda_ca_file',
        'EDA_CONNECT_TIMEOUT' => 'eda_connect_timeout',
        'EDA_TIMEOUT' => 'eda_timeout',
    ];
    foreach ($scalars as $suffix => $key) {
        $value = env_value($env, ENV_PREFIX . $suffix);
        if ($value !== null) {
            $config[$key] = $value;
        }
    }
    foreach (array_keys($config['job_templates']) as $playbook) {
        $value = env_value($env, ENV_PREFIX . 'TEMPLATE_' . strtoupper($playbook));
        if ($value !== null) {
            $config['job_templates'][$playbook] = $value;
        }
    }

    // The API lives at api_path below the base URL; accept the base URL with or without it.
    $config['api_path'] = '/' . trim(trim((string) $config['api_path']), '/');
    $url = rtrim(trim((string) $config['awx_url']), '/');
    if ($config['api_path'] !== '/' && substr($url, -strlen($config['api_path'])) === $config['api_path']) {
        $url = substr($url, 0, -strlen($config['api_path']));
    }
    $config['awx_url'] = $url;
    $config['token'] = trim((string) $config['token']);
    $config['ca_file'] = trim((string) $config['ca_file']);
    foreach ($config['job_templates'] as $playbook => $id) {
        $config['job_templates'][$playbook] = positive_int($id);
    }
    $config['product_ids'] = array_values(array_filter(array_map(__NAMESPACE__ . '\\positive_int', as_list($config['product_ids']))));
    $config['modules'] = array_values(array_filter(array_map(
        function ($name) {
            return strtolower(trim((string) $name));
        },
        as_list($config['modules'])
    ), 'strlen'));
    $config['connect_timeout'] = positive_int($config['connect_timeout']) ?: 5;
    $config['timeout'] = positive_int($config['timeout']) ?: 15;
    $config['allow_http'] = filter_var($config['allow_http'], FILTER_VALIDATE_BOOLEAN);
    $config['eda_url'] = trim((string) $config['eda_url']);
    $config['eda_secret'] = trim((string) $config['eda_secret']);
    $config['eda_ca_file'] = trim((string) $config['eda_ca_file']);
    $config['eda_connect_timeout'] = positive_int($config['eda_connect_timeout']) ?: 2;
    $config['eda_timeout'] = positive_int($config['eda_timeout']) ?: 5;
    return $config;
}

/** The value of an environment variable, or null when it is unset or blank. */
function env_value(array $env, string $name): ?string
{
    if (!isset($env[$name]) || trim((string) $env[$name]) === '') {
        return null;
    }
    return (string) $env[$name];
}

/** A list from an array or a comma-separated string (as environment variables give them). */
function as_list($value): array
{
    if (is_array($value)) {
        return array_values($value);
    }
    if (is_string($value)) {
        return array_map('trim', explode(',', $value));
    }
    return $value === null ? [] : [$value];
}

/** The value as a positive integer, or 0 when it is not one ("12" and 12 count, "12abc" does not). */
function positive_int($value): int
{
    if (is_int($value)) {
        return $value > 0 ? $value : 0;
    }
    if (is_string($value) && preg_match('/^\s*[0-9]+\s*$/', $value)) {
        return max(0, (int) $value);
    }
    return 0;
}

/**
 * What keeps this playbook from being launched with these settings ([] when nothing does).
 */
function config_problems(array $config, string $playbook): array
{
    $problems = [];
    $url = $config['awx_url'];
    if ($url === '') {
        $problems[] = 'no AWX URL (awx_url, or ' . ENV_PREFIX . 'URL)';
    } elseif (stripos($url, 'https://') !== 0 && !($config['allow_http'] && stripos($url, 'http://') === 0)) {
        // The token travels in a header: refuse to send it in clear text unless told to.
        $problems[] = 'the AWX URL must start with https:// (allow_http permits http:// for a lab)';
    }
    if ($config['token'] === '') {
        $problems[] = 'no AWX token (token, or ' . ENV_PREFIX . 'TOKEN)';
    }
    if (empty($config['job_templates'][$playbook])) {
        $problems[] = 'no job template id for ' . $playbook . ' (job_templates.' . $playbook
            . ', or ' . ENV_PREFIX . 'TEMPLATE_' . strtoupper($playbook) . ')';
    }
    if (!$config['product_ids'] && !$config['modules']) {
        // Without a filter every product with a module (shared hosting included) would start
        // a provisioning job, so an empty filter is a configuration error, not "everything".
        $problems[] = 'neither product_ids nor modules is set, so no product is selected';
    }
    if ($config['ca_file'] !== '' && !is_readable($config['ca_file'])) {
        $problems[] = 'the CA file ' . $config['ca_file'] . ' cannot be read';
    }
    return $problems;
}

/**
 * The facts about the service in a hook's $vars, whatever WHMCS version sent them.
 *
 * WHMCS passes the module parameters in $vars['params']; the key names differ a little between
 * versions (serviceid / accountid, pid / packageid, moduletype / module), so each is looked up
 * under every name, in $vars['params'] first and then in $vars itself.
 */
function service_from_vars($vars): array
{
    $sources = [];
    if (is_array($vars)) {
        if (isset($vars['params']) && is_array($vars['params'])) {
            $sources[] = $vars['params'];
        }
        $sources[] = $vars;
    }
    $pick = function (array $names) use ($sources) {
        foreach ($sources as $source) {
            foreach ($names as $name) {
                if (isset($source[$name]) && !is_array($source[$name]) && !is_object($source[$name]) && (string) $source[$name] !== '') {
                    return $source[$name];
                }
            }
        }
        return null;
    };
    return [
        'service_id' => positive_int($pick(['serviceid', 'accountid', 'serviceId'])),
        'product_id' => positive_int($pick(['pid', 'packageid', 'productid'])),
        'module' => strtolower(trim((string) $pick(['moduletype', 'module']))),
        'client_id' => positive_int($pick(['userid', 'clientid'])),
        // Set when the module action ran for a product addon: its serviceid is the parent's.
        'addon_id' => positive_int($pick(['addonId', 'addonid'])),
    ];
}

/** Whether the settings select this service (its product id or its module is listed). */
function service_selected(array $config, array $service): bool
{
    if ($service['addon_id'] > 0) {
        return false;
    }
    if ($service['product_id'] > 0 && in_array($service['product_id'], $config['product_ids'], true)) {
        return true;
    }
    return $service['module'] !== '' && in_array($service['module'], $config['modules'], true);
}

/** The headers of every AWX API request. */
function request_headers(array $config): array
{
    return [
        'Authorization: Bearer ' . $config['token'],
        'Content-Type: application/json',
        'Accept: application/json',
        'User-Agent: ispsystem.dcimanager-whmcs-hook/1',
    ];
}

/**
 * The launch request of a job template: ['method', 'url', 'headers', 'body'].
 */
function build_launch_request(array $config, string $playbook, int $serviceId): array
{
    return [
        'method' => 'POST',
        'url' => $config['awx_url'] . $config['api_path'] . '/job_templates/' . $config['job_templates'][$playbook] . '/launch/',
        'headers' => request_headers($config),
        'body' => json_encode(['extra_vars' => ['service_id' => $serviceId]], JSON_UNESCAPED_SLASHES),
    ];
}

/** The request that cancels a job AWX started without the service id. */
function build_cancel_request(array $config, int $jobId): array
{
    return [
        'method' => 'POST',
        'url' => $config['awx_url'] . $config['api_path'] . '/jobs/' . $jobId . '/cancel/',
        'headers' => request_headers($config),
        'body' => '',
    ];
}

/**
 * Read AWX's answer to a launch: ['ok' => bool, 'job' => ?int, 'ignored' => array, 'error' => string].
 *
 * AWX answers 201 with the new job's id in "job". A variable the job template does not accept
 * (no "Prompt on launch" for variables, no survey question) is dropped without an error and
 * listed in "ignored_fields": the caller must treat a dropped service_id as a failure.
 */
function parse_launch_response(int $status, string $body): array
{
    $data = json_decode($body, true);
    if ($status !== 201) {
        return ['ok' => false, 'job' => null, 'ignored' => [], 'error' => 'AWX answered HTTP ' . $status . describe_body($data, $body)];
    }
    $job = is_array($data) ? positive_int($data['job'] ?? ($data['id'] ?? null)) : 0;
    if ($job === 0) {
        return ['ok' => false, 'job' => null, 'ignored' => [], 'error' => 'AWX answered HTTP 201 without a job id' . describe_body($data, $body)];
    }
    $ignored = (is_array($data['ignored_fields'] ?? null)) ? $data['ignored_fields'] : [];
    return ['ok' => true, 'job' => $job, 'ignored' => $ignored, 'error' => ''];
}

/** A short, single-line summary of an answer body for the activity log. */
function describe_body($data, string $body): string
{
    if (is_array($data)) {
        $parts = [];
        foreach ($data as $key => $value) {
            $parts[] = $key . ': ' . (is_scalar($value) ? (string) $value : json_encode($value, JSON_UNESCAPED_SLASHES));
        }
        $text = implode('; ', $parts);
    } else {
        $text = trim(strip_tags($body));
    }
    $text = preg_replace('/\s+/', ' ', $text);
    if ($text === '') {
        return '';
    }
    return ': ' . (strlen($text) > 300 ? substr($text, 0, 300) . '...' : $text);
}

/** Remove the secret from a text bound for a log (AWX never echoes it, but a proxy page might). */
function redact(string $text, string $secret): string
{
    return $secret === '' ? $text : str_replace($secret, '********', $text);
}

/**
 * Send one request with PHP's curl: ['status' => int, 'body' => string, 'error' => string].
 *
 * TLS is always verified; ca_file adds a private CA. Redirects are not followed, so the
 * token never goes to a host other than the configured one.
 */
function curl_send(array $config, array $request): array
{
    if (!function_exists('curl_init')) {
        return ['status' => 0, 'body' => '', 'error' => 'PHP has no curl extension'];
    }
    $handle = curl_init($request['url']);
    $options = [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $request['body'],
        CURLOPT_HTTPHEADER => $request['headers'],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_FOLLOWLOCATION => false,
        CURLOPT_CONNECTTIMEOUT => $config['connect_timeout'],
        CURLOPT_TIMEOUT => $config['timeout'],
        CURLOPT_SSL_VERIFYPEER => true,
        CURLOPT_SSL_VERIFYHOST => 2,
        CURLOPT_PROTOCOLS => $config['allow_http'] ? (CURLPROTO_HTTPS | CURLPROTO_HTTP) : CURLPROTO_HTTPS,
    ];
    if ($config['ca_file'] !== '') {
        $options[CURLOPT_CAINFO] = $config['ca_file'];
    }
    curl_setopt_array($handle, $options);
    $body = curl_exec($handle);
    $result = ['status' => (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE), 'body' => '', 'error' => ''];
    if ($body === false) {
        $result['error'] = curl_error($handle) . ' (curl error ' . curl_errno($handle) . ')';
    } else {
        $result['body'] = (string) $body;
    }
    curl_close($handle);
    return $result;
}

/**
 * What keeps the event from being posted to the event source with these settings ([] when nothing does).
 */
function eda_config_problems(array $config): array
{
    $problems = [];
    $url = $config['eda_url'];
    if (stripos($url, 'https://') !== 0 && !($config['allow_http'] && stripos($url, 'http://') === 0)) {
        $problems[] = 'the event source URL must start with https:// (allow_http permits http:// for a lab)';
    }
    if (strlen($config['eda_secret']) < 32) {
        // The signature is all that tells the source a post came from WHMCS: no short keys.
        $problems[] = 'eda_secret (or ' . ENV_PREFIX . 'EDA_SECRET) must be at least 32 characters';
    }
    if (!$config['product_ids'] && !$config['modules']) {
        $problems[] = 'neither product_ids nor modules is set, so no product is selected';
    }
    if ($config['eda_ca_file'] !== '' && !is_readable($config['eda_ca_file'])) {
        $problems[] = 'the CA file ' . $config['eda_ca_file'] . ' cannot be read';
    }
    return $problems;
}

/** A new event id: random, so that two events never share one and a replay is recognised. */
function new_event_id(): string
{
    return 'whmcs-push-' . bin2hex(random_bytes(16));
}

/**
 * The signed post of one module event to the event source: ['method', 'url', 'headers', 'body'].
 *
 * The HMAC covers the whole body, which carries the timestamp and the event id.
 */
function build_eda_request(array $config, string $hook, array $service, string $eventId, int $now): array
{
    $body = json_encode([
        'event_id' => $eventId,
        'timestamp' => $now,
        'hook' => $hook,
        'action' => EDA_ACTIONS[$hook],
        'service_id' => $service['service_id'],
        'product_id' => $service['product_id'],
        'client_id' => $service['client_id'],
    ], JSON_UNESCAPED_SLASHES);
    return [
        'method' => 'POST',
        'url' => $config['eda_url'],
        'headers' => [
            'Content-Type: application/json',
            'Accept: application/json',
            EDA_SIGNATURE_HEADER . ': sha256=' . hash_hmac('sha256', $body, $config['eda_secret']),
            'User-Agent: ispsystem.dcimanager-whmcs-hook/1',
        ],
        'body' => $body,
    ];
}

/**
 * Post one event to the event source; one more try after a connection failure or an HTTP 5xx.
 * Returns the activity log line.
 */
function push_to_eda(array $config, string $hook, array $service, callable $send): string
{
    $what = EDA_ACTIONS[$hook] . ' of service #' . $service['service_id'];
    $problems = eda_config_problems($config);
    if ($service['service_id'] === 0) {
        $problems[] = 'WHMCS gave no service id to ' . $hook;
    }
    if ($problems) {
        return EDA_LOG_PREFIX . $what . ' NOT posted: ' . implode('; ', $problems);
    }
    // curl_send() reads these keys: give it the event source's.
    $transport = array_merge($config, [
        'connect_timeout' => $config['eda_connect_timeout'],
        'timeout' => $config['eda_timeout'],
        'ca_file' => $config['eda_ca_file'],
    ]);
    $eventId = new_event_id();
    // The retry sends the same body: if the first post did arrive, the source answers 409 and
    // emits nothing twice.
    $request = build_eda_request($config, $hook, $service, $eventId, time());
    $answer = ['status' => 0, 'body' => '', 'error' => ''];
    for ($attempt = 1; $attempt <= 2; $attempt++) {
        if ($attempt > 1) {
            usleep(500000);
        }
        $answer = $send($transport, $request);
        if ($answer['error'] === '' && $answer['status'] < 500) {
            break;
        }
    }
    $where = ' (' . $config['eda_url'] . ', event ' . $eventId . ')';
    if ($answer['error'] !== '') {
        return EDA_LOG_PREFIX . $what . ' NOT posted' . $where . ': could not reach the event source: ' . $answer['error']
            . '. Its poll mode, or the scheduled reconcile, catches up.';
    }
    if ($answer['status'] === 202 || $answer['status'] === 409) {
        // 409: the first try arrived although its answer did not.
        return EDA_LOG_PREFIX . $what . ' posted' . $where;
    }
    if ($answer['status'] === 200) {
        return EDA_LOG_PREFIX . $what . ' posted' . $where . ', and ignored by the event source (not one of its product_ids)';
    }
    return EDA_LOG_PREFIX . $what . ' NOT posted' . $where . ': the event source answered HTTP ' . $answer['status']
        . describe_body(json_decode($answer['body'], true), $answer['body']);
}

/**
 * Write one line to WHMCS's activity log (PHP's error log outside WHMCS).
 */
function log_line(string $message, int $clientId = 0): void
{
    if (function_exists('logActivity')) {
        \logActivity($message, $clientId);
    } else {
        error_log($message);
    }
}

/**
 * The environment variables this hook reads (name => value, unset ones left out).
 *
 * Each name is asked for on its own: getenv(NAME) also sees the variables the web server gives
 * PHP (Apache SetEnv, PHP-FPM env[...]), which getenv() without a name does not list.
 */
function environment(): array
{
    $names = [ENV_PREFIX . 'CONFIG'];
    foreach (['URL', 'API_PATH', 'TOKEN', 'CA_FILE', 'CONNECT_TIMEOUT', 'TIMEOUT', 'ALLOW_HTTP', 'PRODUCT_IDS', 'MODULES',
              'EDA_URL', 'EDA_SECRET', 'EDA_CA_FILE', 'EDA_CONNECT_TIMEOUT', 'EDA_TIMEOUT'] as $suffix) {
        $names[] = ENV_PREFIX . $suffix;
    }
    foreach (array_keys(default_config()['job_templates']) as $playbook) {
        $names[] = ENV_PREFIX . 'TEMPLATE_' . strtoupper($playbook);
    }
    $env = [];
    foreach ($names as $name) {
        $value = getenv($name);
        if ($value !== false) {
            $env[$name] = $value;
        }
    }
    return $env;
}

/**
 * The settings in force: the config file (next to this hook, or where ISPSYSTEM_AWX_CONFIG
 * points) and the environment. Returns [config, problems].
 */
function load_config(): array
{
    $env = environment();
    $path = env_value($env, ENV_PREFIX . 'CONFIG') ?? (__DIR__ . DIRECTORY_SEPARATOR . CONFIG_FILE);
    $file = [];
    $problems = [];
    if (is_file($path)) {
        $loaded = include $path;
        if (is_array($loaded)) {
            $file = $loaded;
        } else {
            $problems[] = 'the config file ' . $path . ' does not return an array';
        }
    }
    return [build_config($file, $env), $problems];
}

/**
 * Launch the job template for one hook call. Never throws.
 *
 * @param string        $hook   the WHMCS hook name (a key of EVENTS)
 * @param mixed         $vars   what WHMCS passed to the hook
 * @param array|null    $config settings (null: load_config())
 * @param callable|null $send   transport, function (array $config, array $request): array (null: curl_send)
 * @param callable|null $log    function (string $message, int $clientId) (null: log_line)
 */
function handle(string $hook, $vars, ?array $config = null, ?callable $send = null, ?callable $log = null): void
{
    $log = $log ?? __NAMESPACE__ . '\\log_line';
    $send = $send ?? __NAMESPACE__ . '\\curl_send';
    $token = '';
    $secret = '';
    try {
        $playbook = EVENTS[$hook] ?? null;
        if ($playbook === null) {
            return;
        }
        $service = service_from_vars($vars);
        $problems = [];
        if ($config === null) {
            list($config, $problems) = load_config();
        }
        $token = $config['token'];
        $secret = $config['eda_secret'];
        $filtered = $config['product_ids'] || $config['modules'];
        if (!service_selected($config, $service) && ($filtered || $service['addon_id'] > 0)) {
            // Other products are not ours: say nothing about them. (With no filter at all the
            // set-up is incomplete, which config_problems() reports below.)
            return;
        }
        if ($config['eda_url'] !== '') {
            $line = push_to_eda($config, $hook, $service, $send);
            $log(redact(redact(implode('; ', array_merge([$line], $problems)), $secret), $token), $service['client_id']);
            if ($config['awx_url'] === '') {
                // Event-Driven Ansible only: no AWX to launch.
                return;
            }
        }
        $what = $playbook . ' of service #' . $service['service_id'];
        $problems = array_merge($problems, config_problems($config, $playbook));
        if ($service['service_id'] === 0) {
            $problems[] = 'WHMCS gave no service id to ' . $hook;
        }
        if ($problems) {
            $log(redact(LOG_PREFIX . $what . ' NOT launched: ' . implode('; ', $problems), $token), $service['client_id']);
            return;
        }

        $request = build_launch_request($config, $playbook, $service['service_id']);
        $answer = $send($config, $request);
        $where = ' (job template ' . $config['job_templates'][$playbook] . ' at ' . $config['awx_url'] . ')';
        if ($answer['error'] !== '') {
            $log(redact(LOG_PREFIX . $what . ' NOT launched: could not reach AWX' . $where . ': ' . $answer['error']
                . '. Launch it in AWX by hand, or let the scheduled reconcile job catch up.', $token), $service['client_id']);
            return;
        }
        // Redact before parsing: the log keeps only the start of a long body, which could cut the token in two.
        $result = parse_launch_response($answer['status'], redact($answer['body'], $token));
        if (!$result['ok']) {
            $log(redact(LOG_PREFIX . $what . ' NOT launched' . $where . ': ' . $result['error'], $token), $service['client_id']);
            return;
        }
        if (isset($result['ignored']['extra_vars'])) {
            // The job runs without service_id, i.e. over the whole inventory: stop it at once.
            $cancel = $send($config, build_cancel_request($config, $result['job']));
            $cancelled = $cancel['error'] === '' && $cancel['status'] >= 200 && $cancel['status'] < 300;
            $log(redact(LOG_PREFIX . $what . ': AWX job ' . $result['job'] . $where . ' was started WITHOUT service_id'
                . ' because the job template ignores extra_vars (tick "Prompt on launch" for Variables, or add a'
                . ' service_id survey question); ' . ($cancelled ? 'the job was cancelled.'
                : 'cancelling it FAILED (' . ($cancel['error'] ?: 'HTTP ' . $cancel['status']) . '): cancel it in AWX now.'), $token), $service['client_id']);
            return;
        }
        $log(LOG_PREFIX . $what . ' launched as AWX job ' . $result['job'] . $where, $service['client_id']);
    } catch (\Throwable $error) {
        // A bug here must never break the WHMCS action that triggered the hook.
        try {
            $log(redact(redact(LOG_PREFIX . $hook . ' failed: ' . get_class($error) . ': ' . $error->getMessage(), $token),
                $secret), 0);
        } catch (\Throwable $ignored) {
            // Nothing more can be done without risking WHMCS's own flow.
        }
    }
}

if (function_exists('add_hook')) {
    foreach (array_keys(EVENTS) as $hookName) {
        add_hook($hookName, 1, function ($vars) use ($hookName) {
            handle($hookName, $vars);
        });
    }
    unset($hookName);
}
