<?php
/**
 * ispsystem.dcimanager: how WHMCS starts work in Ansible. The one library of the provisioning module
 * (modules/servers/ispsystem_dcimanager/) and of the standalone hook (includes/hooks/ispsystem_dcimanager_awx.php).
 *
 *   settings      default_config(), build_config(), load_config(): a config file and ISPSYSTEM_AWX_* variables
 *   AWX           launch(): POST /api/v2/job_templates/ID/launch/ with extra_vars (never a password), the
 *                 cancel of a job that lost service_id, job_status() and job_output() for a caller that waits
 *   EDA           post_event(): the signed post to the ispsystem.dcimanager.whmcs event source
 *   events        dispatch(): one module event of one service to what is configured (AWX and / or EDA)
 *   logs          redact(), log_line() (WHMCS's activity log)
 *
 * Everything that talks to the network goes through one send function, function (array $transport,
 * array $request): array ['status' => int, 'body' => string, 'error' => string] (curl_send() here; the
 * tests give their own). Nothing here throws to its caller for a network or server failure: the answer
 * says what happened.
 *
 * Needs PHP 8.1 or newer (7.4 still parses it) and PHP's curl extension.
 */

namespace IspsystemDcimanager\Automation;

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/** The provisioning module's system name: the standalone hook leaves its products to it. */
const MODULE_NAME = 'ispsystem_dcimanager';

/** WHMCS module hook => the action it stands for (the event source's "action"). */
const HOOK_ACTIONS = [
    'AfterModuleCreate' => 'create',
    'AfterModuleSuspend' => 'suspend',
    'AfterModuleUnsuspend' => 'unsuspend',
    'AfterModuleTerminate' => 'terminate',
];

/** Action => the job template of the four-template set-up (before the converge template). */
const LEGACY_TEMPLATES = [
    'create' => 'provision',
    'suspend' => 'suspend',
    'unsuspend' => 'unsuspend',
    'terminate' => 'terminate',
];

const AWX_PREFIX = 'ispsystem.dcimanager AWX: ';
const EDA_PREFIX = 'ispsystem.dcimanager EDA: ';
const EDA_SIGNATURE_HEADER = 'X-Ispsystem-Signature';
const ENV_PREFIX = 'ISPSYSTEM_AWX_';
const USER_AGENT = 'ispsystem.dcimanager-whmcs/2';

/** AWX job states after which nothing more happens. */
const JOB_FINISHED = ['successful', 'failed', 'error', 'canceled'];

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
        // converge: ONE template for every module action (playbook ispsystem.dcimanager.converge). When it is
        // set, the four others are not used. server_control: the provisioning module's buttons.
        'job_templates' => ['converge' => 0, 'server_control' => 0, 'provision' => 0, 'suspend' => 0, 'unsuspend' => 0, 'terminate' => 0],
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
        // The provisioning module: how many CreateAccount calls may wait at once on this WHMCS (0 = no limit).
        'create_max_waiting' => 10,
        // The provisioning module: seconds the panel (DCImanager) gets for a read and for session.newkey.
        'panel_connect_timeout' => 5,
        'panel_timeout' => 15,
    ];
}

/** Environment variable suffix => setting (each ISPSYSTEM_AWX_<suffix>). */
function environment_names(): array
{
    return [
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
        'CREATE_MAX_WAITING' => 'create_max_waiting',
        'PANEL_CONNECT_TIMEOUT' => 'panel_connect_timeout',
        'PANEL_TIMEOUT' => 'panel_timeout',
    ];
}

/**
 * Merge the config file's array and the environment into one normalised settings array.
 *
 * An environment variable that is set and not empty wins over the file, so a deployment can keep
 * the token out of the WHMCS directory entirely.
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
    foreach (environment_names() as $suffix => $key) {
        $value = env_value($env, ENV_PREFIX . $suffix);
        if ($value !== null) {
            $config[$key] = $value;
        }
    }
    foreach (array_keys($config['job_templates']) as $template) {
        $value = env_value($env, ENV_PREFIX . 'TEMPLATE_' . strtoupper($template));
        if ($value !== null) {
            $config['job_templates'][$template] = $value;
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
    foreach ($config['job_templates'] as $template => $id) {
        $config['job_templates'][$template] = positive_int($id);
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
    $config['create_max_waiting'] = positive_int($config['create_max_waiting']);
    $config['panel_connect_timeout'] = positive_int($config['panel_connect_timeout']) ?: 5;
    $config['panel_timeout'] = positive_int($config['panel_timeout']) ?: 15;
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
 * The environment variables these settings come from (name => value, unset ones left out).
 *
 * Each name is asked for on its own: getenv(NAME) also sees the variables the web server gives
 * PHP (Apache SetEnv, PHP-FPM env[...]), which getenv() without a name does not list.
 */
function environment(): array
{
    $names = [ENV_PREFIX . 'CONFIG'];
    foreach (array_keys(environment_names()) as $suffix) {
        $names[] = ENV_PREFIX . $suffix;
    }
    foreach (array_keys(default_config()['job_templates']) as $template) {
        $names[] = ENV_PREFIX . 'TEMPLATE_' . strtoupper($template);
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
 * The settings in force: the config file (at $default_path, or where ISPSYSTEM_AWX_CONFIG points)
 * and the environment. Returns [config, problems]. The config file may throw: the caller catches.
 */
function load_config(string $default_path): array
{
    $env = environment();
    $path = env_value($env, ENV_PREFIX . 'CONFIG') ?? $default_path;
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
 * The facts about the service in a hook's $vars (or a module function's $params), whatever WHMCS
 * version sent them.
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
        // The WHMCS server entry (the DCImanager panel) of the service; 0 when it has none.
        'server_id' => positive_int($pick(['serverid'])),
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

/**
 * The extra vars of a converge launch (and the fields of an event): service_id, the WHMCS server entry
 * (server_id) when the service has one, and dedicated_server_new_service for a create. Never a password:
 * AWX keeps a job's extra vars with the job.
 */
function converge_vars(array $service, string $action): array
{
    $vars = ['service_id' => $service['service_id']];
    if ($service['server_id'] > 0) {
        $vars['server_id'] = $service['server_id'];
    }
    if ($action === 'create') {
        $vars['dedicated_server_new_service'] = true;
    }
    return $vars;
}

// --- HTTP ---------------------------------------------------------------------------------------

/**
 * Send one request with PHP's curl: ['status' => int, 'body' => string, 'error' => string].
 *
 * $transport: connect_timeout, timeout, ca_file, allow_http. $request: method (GET or POST), url,
 * headers, body. TLS is always verified; ca_file adds a private CA. Redirects are not followed, so
 * credentials never go to a host other than the configured one.
 */
function curl_send(array $transport, array $request): array
{
    if (!function_exists('curl_init')) {
        return ['status' => 0, 'body' => '', 'error' => 'PHP has no curl extension'];
    }
    $handle = curl_init($request['url']);
    $options = [
        CURLOPT_HTTPHEADER => $request['headers'],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_FOLLOWLOCATION => false,
        CURLOPT_CONNECTTIMEOUT => $transport['connect_timeout'],
        CURLOPT_TIMEOUT => $transport['timeout'],
        CURLOPT_SSL_VERIFYPEER => true,
        CURLOPT_SSL_VERIFYHOST => 2,
        CURLOPT_PROTOCOLS => !empty($transport['allow_http']) ? (CURLPROTO_HTTPS | CURLPROTO_HTTP) : CURLPROTO_HTTPS,
    ];
    if (($request['method'] ?? 'POST') === 'GET') {
        $options[CURLOPT_HTTPGET] = true;
    } else {
        $options[CURLOPT_POST] = true;
        $options[CURLOPT_POSTFIELDS] = $request['body'];
    }
    if (($transport['ca_file'] ?? '') !== '') {
        $options[CURLOPT_CAINFO] = $transport['ca_file'];
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

/** A short, single-line summary of an answer body for a log line. */
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

/** Remove every secret from a text bound for a log (the other side never echoes one, but a proxy page might). */
function redact(string $text, ...$secrets): string
{
    foreach ($secrets as $secret) {
        if (is_string($secret) && $secret !== '') {
            $text = str_replace($secret, '********', $text);
        }
    }
    return $text;
}

// --- AWX -----------------------------------------------------------------------------------------

/** The headers of every AWX API request. */
function awx_headers(array $config): array
{
    return [
        'Authorization: Bearer ' . $config['token'],
        'Content-Type: application/json',
        'Accept: application/json',
        'User-Agent: ' . USER_AGENT,
    ];
}

/**
 * What keeps this job template from being launched with these settings ([] when nothing does).
 *
 * $selection: whether the settings must name the products (the standalone hook: yes; the module,
 * whose products are its own: no).
 */
function awx_problems(array $config, string $template, bool $selection = true): array
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
    if (empty($config['job_templates'][$template])) {
        $problems[] = 'no job template id for ' . $template . ' (job_templates.' . $template
            . ', or ' . ENV_PREFIX . 'TEMPLATE_' . strtoupper($template) . ')';
    }
    if ($selection && !$config['product_ids'] && !$config['modules']) {
        // Without a filter every product with a module (shared hosting included) would start
        // a provisioning job, so an empty filter is a configuration error, not "everything".
        $problems[] = 'neither product_ids nor modules is set, so no product is selected';
    }
    if ($config['ca_file'] !== '' && !is_readable($config['ca_file'])) {
        $problems[] = 'the CA file ' . $config['ca_file'] . ' cannot be read';
    }
    return $problems;
}

/** The launch request of a job template: ['method', 'url', 'headers', 'body']. */
function build_launch_request(array $config, string $template, array $extra_vars): array
{
    return [
        'method' => 'POST',
        'url' => $config['awx_url'] . $config['api_path'] . '/job_templates/' . $config['job_templates'][$template] . '/launch/',
        'headers' => awx_headers($config),
        'body' => json_encode(['extra_vars' => $extra_vars], JSON_UNESCAPED_SLASHES),
    ];
}

/** The request that cancels a job AWX started without the service id. */
function build_cancel_request(array $config, int $job): array
{
    return [
        'method' => 'POST',
        'url' => $config['awx_url'] . $config['api_path'] . '/jobs/' . $job . '/cancel/',
        'headers' => awx_headers($config),
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

/** The transport settings of AWX requests. */
function awx_transport(array $config): array
{
    return [
        'connect_timeout' => $config['connect_timeout'],
        'timeout' => $config['timeout'],
        'ca_file' => $config['ca_file'],
        'allow_http' => $config['allow_http'],
    ];
}

/**
 * Launch one job template with these extra vars. Never throws.
 *
 * Returns ['ok' => bool, 'job' => ?int, 'line' => string (for the activity log, token-free),
 * 'where' => string]. A job that AWX started without service_id (the template dropped the extra vars)
 * is cancelled at once and counts as not launched; other dropped variables are named in the line.
 */
function launch(array $config, string $template, array $extra_vars, string $what, callable $send): array
{
    $token = $config['token'];
    $where = ' (job template ' . $config['job_templates'][$template] . ' at ' . $config['awx_url'] . ')';
    $answer = $send(awx_transport($config), build_launch_request($config, $template, $extra_vars));
    if ($answer['error'] !== '') {
        return ['ok' => false, 'job' => null, 'where' => $where, 'line' => redact(AWX_PREFIX . $what . ' NOT launched: could not reach AWX'
            . $where . ': ' . $answer['error'] . '. Launch it in AWX by hand, or let the scheduled reconcile job catch up.', $token)];
    }
    // Redact before parsing: the log keeps only the start of a long body, which could cut the token in two.
    $result = parse_launch_response($answer['status'], redact($answer['body'], $token));
    if (!$result['ok']) {
        return ['ok' => false, 'job' => null, 'where' => $where, 'line' => redact(AWX_PREFIX . $what . ' NOT launched' . $where . ': ' . $result['error'], $token)];
    }
    $dropped = is_array($result['ignored']['extra_vars'] ?? null) ? array_keys($result['ignored']['extra_vars']) : [];
    if (isset($result['ignored']['extra_vars']) && (!$dropped || in_array('service_id', $dropped, true))) {
        // The job runs without service_id, i.e. over the whole inventory: stop it at once.
        $cancel = $send(awx_transport($config), build_cancel_request($config, $result['job']));
        $cancelled = $cancel['error'] === '' && $cancel['status'] >= 200 && $cancel['status'] < 300;
        return ['ok' => false, 'job' => $result['job'], 'where' => $where, 'line' => redact(AWX_PREFIX . $what . ': AWX job ' . $result['job'] . $where
            . ' was started WITHOUT service_id because the job template ignores extra_vars (tick "Prompt on launch" for Variables, or add a'
            . ' service_id survey question); ' . ($cancelled ? 'the job was cancelled.'
            : 'cancelling it FAILED (' . ($cancel['error'] ?: 'HTTP ' . $cancel['status']) . '): cancel it in AWX now.'), $token)];
    }
    $line = AWX_PREFIX . $what . ' launched as AWX job ' . $result['job'] . $where;
    if ($dropped) {
        $line .= '; AWX dropped the variables ' . implode(', ', $dropped)
            . ' (tick "Prompt on launch" for Variables on the job template, or add them as survey questions)';
    }
    return ['ok' => true, 'job' => $result['job'], 'where' => $where, 'line' => $line];
}

/** The page of a job in AWX's web UI (for a person to follow). */
function job_link(array $config, int $job): string
{
    return $config['awx_url'] . '/#/jobs/playbook/' . $job . '/output';
}

/**
 * A job's state: ['status' => string ('' when it could not be read), 'error' => string].
 */
function job_status(array $config, int $job, callable $send): array
{
    $answer = $send(awx_transport($config), [
        'method' => 'GET',
        'url' => $config['awx_url'] . $config['api_path'] . '/jobs/' . $job . '/',
        'headers' => awx_headers($config),
        'body' => '',
    ]);
    if ($answer['error'] !== '') {
        return ['status' => '', 'error' => 'could not reach AWX: ' . $answer['error']];
    }
    $data = json_decode(redact($answer['body'], $config['token']), true);
    if ($answer['status'] !== 200 || !is_array($data) || !is_string($data['status'] ?? null)) {
        return ['status' => '', 'error' => 'AWX answered HTTP ' . $answer['status'] . describe_body($data, redact($answer['body'], $config['token']))];
    }
    return ['status' => $data['status'], 'error' => ''];
}

/**
 * Why a finished job failed, in a few lines: its "fatal:" / "FAILED!" lines, else the end of its output.
 */
function job_output(array $config, int $job, callable $send): string
{
    $answer = $send(awx_transport($config), [
        'method' => 'GET',
        'url' => $config['awx_url'] . $config['api_path'] . '/jobs/' . $job . '/stdout/?format=txt',
        'headers' => awx_headers($config),
        'body' => '',
    ]);
    if ($answer['error'] !== '' || $answer['status'] !== 200) {
        return '(its output could not be read: ' . ($answer['error'] ?: 'HTTP ' . $answer['status']) . ')';
    }
    return summarize_output(redact($answer['body'], $config['token']));
}

/** The lines of a playbook's output that say why it failed (at most 600 characters). */
function summarize_output(string $output): string
{
    $lines = array_values(array_filter(array_map('trim', preg_split('/\r?\n/', $output)), 'strlen'));
    $failed = [];
    foreach ($lines as $line) {
        if (preg_match('/^(fatal|failed):|FAILED!|^ERROR!/', $line)) {
            // The useful part of "fatal: [localhost]: FAILED! => {... "msg": "..."}" is the msg.
            if (preg_match('/"msg":\s*"((?:[^"\\\\]|\\\\.)*)"/', $line, $found)) {
                $line = (string) json_decode('"' . $found[1] . '"');
            }
            $failed[] = $line;
        }
    }
    $text = implode(' / ', $failed ?: array_slice($lines, -3));
    $text = preg_replace('/\s+/', ' ', $text);
    return strlen($text) > 600 ? substr($text, 0, 600) . '...' : $text;
}

// --- Event-Driven Ansible ---------------------------------------------------------------------------

/**
 * What keeps an event from being posted to the event source with these settings ([] when nothing does).
 */
function eda_problems(array $config, bool $selection = true): array
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
    if ($selection && !$config['product_ids'] && !$config['modules']) {
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
 * The signed post of one event to the event source: ['method', 'url', 'headers', 'body'].
 *
 * $fields: the event (action, service_id, product_id, client_id, server_id, ...); the event id and the
 * timestamp are added. The HMAC covers the whole body, so neither can be changed or replayed.
 */
function build_eda_request(array $config, array $fields, string $event_id, int $now): array
{
    $body = json_encode(array_merge(['event_id' => $event_id, 'timestamp' => $now], $fields), JSON_UNESCAPED_SLASHES);
    return [
        'method' => 'POST',
        'url' => $config['eda_url'],
        'headers' => [
            'Content-Type: application/json',
            'Accept: application/json',
            EDA_SIGNATURE_HEADER . ': sha256=' . hash_hmac('sha256', $body, $config['eda_secret']),
            'User-Agent: ' . USER_AGENT,
        ],
        'body' => $body,
    ];
}

/** The transport settings of event source requests. */
function eda_transport(array $config): array
{
    return [
        'connect_timeout' => $config['eda_connect_timeout'],
        'timeout' => $config['eda_timeout'],
        'ca_file' => $config['eda_ca_file'],
        'allow_http' => $config['allow_http'],
    ];
}

/**
 * Post one event to the event source; one more try after a connection failure or an HTTP 5xx.
 *
 * Returns ['ok' => bool, 'event_id' => string, 'line' => string (for the activity log)]. The caller has
 * checked eda_problems().
 */
function post_event(array $config, array $fields, string $what, callable $send): array
{
    $event_id = new_event_id();
    // The retry sends the same body: if the first post did arrive, the source answers 409 and
    // emits nothing twice.
    $request = build_eda_request($config, $fields, $event_id, time());
    $answer = ['status' => 0, 'body' => '', 'error' => ''];
    for ($attempt = 1; $attempt <= 2; $attempt++) {
        if ($attempt > 1) {
            usleep(500000);
        }
        $answer = $send(eda_transport($config), $request);
        if ($answer['error'] === '' && $answer['status'] < 500) {
            break;
        }
    }
    $where = ' (' . $config['eda_url'] . ', event ' . $event_id . ')';
    $secret = $config['eda_secret'];
    if ($answer['error'] !== '') {
        return ['ok' => false, 'event_id' => $event_id, 'line' => redact(EDA_PREFIX . $what . ' NOT posted' . $where
            . ': could not reach the event source: ' . $answer['error'] . '. Its poll mode, or the scheduled reconcile, catches up.', $secret)];
    }
    if ($answer['status'] === 202 || $answer['status'] === 409) {
        // 409: the first try arrived although its answer did not.
        return ['ok' => true, 'event_id' => $event_id, 'line' => EDA_PREFIX . $what . ' posted' . $where];
    }
    if ($answer['status'] === 200) {
        return ['ok' => true, 'event_id' => $event_id, 'line' => EDA_PREFIX . $what . ' posted' . $where
            . ', and ignored by the event source (not one of its product_ids)'];
    }
    return ['ok' => false, 'event_id' => $event_id, 'line' => redact(EDA_PREFIX . $what . ' NOT posted' . $where . ': the event source answered HTTP '
        . $answer['status'] . describe_body(json_decode($answer['body'], true), $answer['body']), $secret)];
}

/** The fields of a module event as the event source reads them. */
function event_fields(string $hook, string $action, array $service): array
{
    $fields = [
        'hook' => $hook,
        'action' => $action,
        'service_id' => $service['service_id'],
        'product_id' => $service['product_id'],
        'client_id' => $service['client_id'],
    ];
    if ($service['server_id'] > 0) {
        // The WHMCS server entry: which DCImanager panel the service lives on.
        $fields['server_id'] = $service['server_id'];
    }
    return $fields;
}

// --- one module event ------------------------------------------------------------------------------

/**
 * Hand one module event of one service to what is configured: the event source (eda_url) and / or AWX
 * (awx_url). Never throws for a network or server failure; returns the activity log lines.
 *
 * AWX: with job_templates.converge set, the converge template for every action (extra vars from
 * converge_vars()); else, when $legacy, the template of the action (provision, suspend, unsuspend,
 * terminate) with {"service_id": N}, as before the converge template existed.
 *
 * $selection: whether the settings must name the products (see awx_problems()).
 */
function dispatch(array $config, string $hook, array $service, callable $send, bool $selection = true, bool $legacy = true): array
{
    $action = HOOK_ACTIONS[$hook];
    $lines = [];
    if ($config['eda_url'] !== '') {
        $what = $action . ' of service #' . $service['service_id'];
        $problems = eda_problems($config, $selection);
        if ($service['service_id'] === 0) {
            $problems[] = 'WHMCS gave no service id to ' . $hook;
        }
        if ($problems) {
            $lines[] = EDA_PREFIX . $what . ' NOT posted: ' . implode('; ', $problems);
        } else {
            $lines[] = post_event($config, event_fields($hook, $action, $service), $what, $send)['line'];
        }
        if ($config['awx_url'] === '') {
            // Event-Driven Ansible only: no AWX to launch.
            return $lines;
        }
    }
    $converge = $config['job_templates']['converge'] > 0 || !$legacy;
    $template = $converge ? 'converge' : LEGACY_TEMPLATES[$action];
    $what = ($converge ? 'converge (' . $action . ')' : $template) . ' of service #' . $service['service_id'];
    $problems = awx_problems($config, $template, $selection);
    if ($service['service_id'] === 0) {
        $problems[] = 'WHMCS gave no service id to ' . $hook;
    }
    if ($problems) {
        $lines[] = redact(AWX_PREFIX . $what . ' NOT launched: ' . implode('; ', $problems), $config['token']);
        return $lines;
    }
    $vars = $converge ? converge_vars($service, $action) : ['service_id' => $service['service_id']];
    $lines[] = launch($config, $template, $vars, $what, $send)['line'];
    return $lines;
}

/**
 * Write one line to WHMCS's activity log (PHP's error log outside WHMCS).
 */
function log_line(string $message, int $client_id = 0): void
{
    if (function_exists('logActivity')) {
        \logActivity($message, $client_id);
    } else {
        error_log($message);
    }
}
