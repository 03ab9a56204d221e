<?php
/**
 * ispsystem.dcimanager: the provisioning module's reads of a DCImanager 5 panel, and session.newkey.
 *
 * The module changes nothing on the panel itself (Ansible does): it reads the server list and a server's
 * form for the admin tab, checks the credentials for TestConnection, and asks for one-time login keys
 * (single sign-on). Every call is a POST to https://HOST:1500/dcimgr with out=xml and the credentials
 * in the body (authinfo), the certificate verified.
 *
 * PHP's XML extensions are not always installed, so the panel's answers are read by parse_xml() below:
 * enough XML for the panel's documents (elements, attributes, text, the five entities, numeric character
 * references, CDATA, comments), and it refuses a DOCTYPE.
 */

namespace IspsystemDcimanager\Panel;

use IspsystemDcimanager\Automation as A;

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/** The panel's port and API path when the server entry does not say. */
const DEFAULT_PORT = 1500;
const DEFAULT_PATH = '/dcimgr';

/** A failure talking to the panel; the message is for a person and never holds a secret. */
class PanelError extends \RuntimeException
{
    /** @var string the panel's error type (auth, missed, value ...), '' for a transport failure */
    public $type;
    /** @var string the panel's error object (badpassword, user ...) */
    public $object;

    public function __construct(string $message, string $type = '', string $object = '')
    {
        parent::__construct($message);
        $this->type = $type;
        $this->object = $object;
    }
}

/**
 * The panel of a WHMCS server entry, from a module function's $params:
 * ['url', 'username', 'password', 'ca_file'].
 *
 * The entry's Hostname (or IP address) may be a host, host:port, or a URL (https://host:1500/dcimgr);
 * the port field overrides the port; a missing port is 1500 and a missing path /dcimgr. The Access Hash
 * field may hold the panel's CA certificate (PEM) or a line "ca_file = /path/to/ca.pem"; empty = the
 * system's CA store. Certificates are always verified.
 *
 * @throws PanelError when the entry names no panel
 */
function panel_from_params(array $params, string $tmp_dir = ''): array
{
    $host = trim((string) ($params['serverhostname'] ?? ''));
    if ($host === '') {
        $host = trim((string) ($params['serverip'] ?? ''));
    }
    if ($host === '') {
        throw new PanelError('the service has no WHMCS server entry with a hostname or IP address (its panel is unknown): assign the service to a server of the ispsystem_dcimanager type');
    }
    $url = preg_match('#^[a-z][a-z0-9+.-]*://#i', $host) ? $host : 'https://' . $host;
    $parts = parse_url($url);
    if ($parts === false || empty($parts['host']) || strtolower($parts['scheme'] ?? '') !== 'https' || isset($parts['user']) || isset($parts['query'])) {
        throw new PanelError('the WHMCS server entry\'s hostname ' . $host . ' is not a DCImanager address: give host, host:port or https://host:port/dcimgr');
    }
    $port = A\positive_int($params['serverport'] ?? '') ?: ($parts['port'] ?? DEFAULT_PORT);
    $path = rtrim($parts['path'] ?? '', '/');
    $hostname = strpos($parts['host'], ':') !== false && $parts['host'][0] !== '[' ? '[' . $parts['host'] . ']' : $parts['host'];
    $panel = [
        'url' => 'https://' . $hostname . ':' . $port . ($path === '' ? DEFAULT_PATH : $path),
        'username' => (string) ($params['serverusername'] ?? ''),
        'password' => (string) ($params['serverpassword'] ?? ''),
        'ca_file' => '',
    ];
    if ($panel['username'] === '' || $panel['password'] === '') {
        throw new PanelError('the WHMCS server entry of ' . $panel['url'] . ' has no username or password');
    }
    $panel['ca_file'] = ca_file_of((string) ($params['serveraccesshash'] ?? ''), $tmp_dir);
    return $panel;
}

/**
 * The CA file named by a server entry's Access Hash: a PEM written to a file of its own (named by its
 * hash, so each certificate is written once), or the path of a "ca_file = PATH" line; '' for none.
 */
function ca_file_of(string $access_hash, string $tmp_dir = ''): string
{
    $access_hash = trim($access_hash);
    if ($access_hash === '') {
        return '';
    }
    if (strpos($access_hash, '-----BEGIN CERTIFICATE-----') !== false) {
        $dir = $tmp_dir !== '' ? $tmp_dir : sys_get_temp_dir();
        $path = rtrim($dir, '/\\') . DIRECTORY_SEPARATOR . 'ispsystem_dcimanager_ca_' . hash('sha256', $access_hash) . '.pem';
        if (!is_file($path)) {
            $temporary = $path . '.' . bin2hex(random_bytes(6));
            if (@file_put_contents($temporary, $access_hash . "\n") === false || !@rename($temporary, $path)) {
                @unlink($temporary);
                throw new PanelError('the panel\'s CA certificate (the server entry\'s Access Hash) cannot be written to ' . $dir);
            }
        }
        return $path;
    }
    if (preg_match('/^\s*ca_file\s*=\s*(\S.*?)\s*$/m', $access_hash, $found)) {
        if (!is_readable($found[1])) {
            throw new PanelError('the CA file ' . $found[1] . ' (the server entry\'s Access Hash) cannot be read');
        }
        return $found[1];
    }
    throw new PanelError('the server entry\'s Access Hash is neither a CA certificate (PEM) nor a line "ca_file = /path/to/ca.pem"');
}

/**
 * One call: POST func=FUNC&out=xml&authinfo=USER:PASSWORD&... Returns the <doc> node.
 *
 * @param array    $config the module's settings (panel_connect_timeout, panel_timeout)
 * @param callable $send   the transport (Automation\curl_send)
 * @param callable $log    function (string $func, array $request, string $response, $processed): the Module Log
 * @throws PanelError
 */
function call(array $panel, string $func, array $fields, array $config, callable $send, callable $log, bool $authinfo = true): array
{
    $form = array_merge(['func' => $func, 'out' => 'xml', 'lang' => 'en'], $fields);
    if ($authinfo) {
        $form['authinfo'] = $panel['username'] . ':' . $panel['password'];
    }
    $answer = $send(
        ['connect_timeout' => $config['panel_connect_timeout'], 'timeout' => $config['panel_timeout'], 'ca_file' => $panel['ca_file'], 'allow_http' => false],
        [
            'method' => 'POST',
            'url' => $panel['url'],
            'headers' => ['Content-Type: application/x-www-form-urlencoded', 'Accept: text/xml', 'User-Agent: ' . A\USER_AGENT],
            'body' => http_build_query($form, '', '&', PHP_QUERY_RFC3986),
        ]
    );
    // The Module Log gets the request without its credentials or a login key (the replace list scrubs them again).
    $logged = $form;
    foreach (['authinfo' => $panel['username'] . ':********', 'password' => '********', 'key' => '********'] as $field => $masked) {
        if (isset($logged[$field])) {
            $logged[$field] = $masked;
        }
    }
    if ($answer['error'] !== '') {
        $log($func, $logged, $answer['error'], null);
        throw new PanelError('cannot reach DCImanager at ' . $panel['url'] . ': ' . $answer['error']);
    }
    if ($answer['status'] !== 200) {
        $log($func, $logged, 'HTTP ' . $answer['status'], null);
        throw new PanelError('DCImanager at ' . $panel['url'] . ' answered ' . $func . ' with HTTP ' . $answer['status']);
    }
    try {
        $doc = parse_xml($answer['body']);
    } catch (PanelError $error) {
        $log($func, $logged, $answer['body'], null);
        throw new PanelError('DCImanager at ' . $panel['url'] . ' answered ' . $func . ' with something other than its XML: ' . $error->getMessage());
    }
    $log($func, $logged, $answer['body'], $doc);
    if ($doc['name'] !== 'doc') {
        throw new PanelError('DCImanager at ' . $panel['url'] . ' answered ' . $func . ' with a document that is not <doc>');
    }
    $error = child($doc, 'error');
    if ($error !== null) {
        $message = trim(text(child($error, 'msg') ?? $error));
        $type = (string) ($error['attrs']['type'] ?? '');
        $object = (string) ($error['attrs']['object'] ?? '');
        if ($type === 'auth') {
            throw new PanelError('DCImanager at ' . $panel['url'] . ' refused the user name or password of the WHMCS server entry ('
                . $type . '/' . $object . ': ' . $message . ')', $type, $object);
        }
        throw new PanelError('DCImanager refused ' . $func . ': ' . $type . '/' . $object . ': ' . $message, $type, $object);
    }
    return $doc;
}

/**
 * The rows of a list answer: one array per <elem>, child name => text. A flag (an empty element, or one
 * whose text is "on") reads as "on"; an absent cell is simply not there.
 */
function rows(array $doc): array
{
    $rows = [];
    foreach ($doc['children'] as $elem) {
        if ($elem['name'] !== 'elem') {
            continue;
        }
        $row = [];
        foreach ($elem['children'] as $cell) {
            $value = trim(text($cell));
            $row[$cell['name']] = $value === '' ? 'on' : $value;
        }
        $rows[] = $row;
    }
    return $rows;
}

/** Whether a row shows the flag $name. */
function flag(array $row, string $name): bool
{
    return isset($row[$name]) && in_array(strtolower($row[$name]), ['on', 'yes', 'true', '1'], true);
}

/** A random one-time login key: 32 lower-case letters and digits (the panel wants at least 16 characters). */
function new_login_key(): string
{
    $alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    $key = '';
    foreach (str_split(random_bytes(32)) as $byte) {
        $key .= $alphabet[ord($byte) % 36];
    }
    return $key;
}

/**
 * Single sign-on: a one-time key for $login (session.newkey, with the server entry's admin credentials) and
 * the URL that logs a browser in with it and uses it up.
 *
 * @throws PanelError
 */
function login_url(array $panel, string $login, array $config, callable $send, callable $log, string $key = ''): array
{
    $key = $key !== '' ? $key : new_login_key();
    call($panel, 'session.newkey', ['username' => $login, 'key' => $key], $config, $send, $log);
    $query = http_build_query(['checkcookie' => 'no', 'func' => 'auth', 'username' => $login, 'key' => $key], '', '&', PHP_QUERY_RFC3986);
    return ['url' => $panel['url'] . '?' . $query, 'key' => $key];
}

/**
 * The panel's server that carries this dedicated IP (its main address) or, without one, this hostname.
 * Returns the row, or null when none does.
 *
 * @throws PanelError when two servers match (the panel does not say which is the service's)
 */
function find_server(array $rows, string $ip, string $hostname): ?array
{
    $found = [];
    foreach ($rows as $row) {
        if ($ip !== '' ? ($row['ip'] ?? '') === $ip : ($hostname !== '' && strcasecmp($row['hostname'] ?? '', $hostname) === 0)) {
            $found[] = $row;
        }
    }
    if (count($found) > 1) {
        throw new PanelError('two servers carry ' . ($ip !== '' ? 'the address ' . $ip : 'the hostname ' . $hostname) . ' on the panel (ids '
            . implode(', ', array_map(function ($row) {
                return $row['id'] ?? '?';
            }, $found)) . ')');
    }
    return $found ? $found[0] : null;
}

/** One word for a server's state, from the flags of its list row. */
function state_of(array $row): string
{
    if (flag($row, 'install_in_progress')) {
        return 'installing';
    }
    if (flag($row, 'operation_failed')) {
        return 'install failed';
    }
    if (flag($row, 'blocked') || flag($row, 'disabled')) {
        return 'suspended';
    }
    if (flag($row, 'hwproblem')) {
        return 'hardware problem';
    }
    if (flag($row, 'diag_in_progress')) {
        return 'diagnostics running';
    }
    $power = flag($row, 'powererror') ? 'power error' : (flag($row, 'poweron') ? 'powered on' : (flag($row, 'poweroff') ? 'powered off' : 'power unknown'));
    return (($row['owner'] ?? '') === '' ? 'free' : 'active') . ', ' . $power;
}

/**
 * The OS of a server, from the install record the collection's dci_os_install writes into the server's notes
 * ("ansible-dcimanager: os_template=NAME recipe=RECIPE started=... finished=..."; plugins/module_utils/
 * _install_record.py). The panel's lists do not show the installed template.
 */
function os_of_notes(string $notes): string
{
    if (!preg_match('/^ansible-dcimanager: os_template=(\S+) recipe=(\S+)(?: started=(\S+))?(?: finished=(\S+))?\s*$/m', $notes, $found)) {
        return '';
    }
    $os = $found[1];
    if ($found[2] !== 'null' && $found[2] !== '') {
        $os .= ', recipe ' . $found[2];
    }
    if (!empty($found[4])) {
        $os .= ' (installed ' . $found[4] . ')';
    } elseif (!empty($found[3])) {
        $os .= ' (install started ' . $found[3] . ')';
    }
    return $os;
}

// --- a small XML reader -------------------------------------------------------------------------------

/** The text of a node: its own text and its children's. */
function text(array $node): string
{
    $text = $node['text'];
    foreach ($node['children'] as $child) {
        $text .= text($child);
    }
    return $text;
}

/** The first child element called $name, or null. */
function child(array $node, string $name): ?array
{
    foreach ($node['children'] as $element) {
        if ($element['name'] === $name) {
            return $element;
        }
    }
    return null;
}

/**
 * Parse an XML document into nested arrays ['name', 'attrs' => [name => value], 'children' => [...], 'text'].
 *
 * @throws PanelError when it is not well-formed
 */
function parse_xml(string $xml): array
{
    $pattern = '/\G(?:(<\?.*?\?>)|(<!--.*?-->)|<!\[CDATA\[(.*?)\]\]>|(<!)|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|\'[^\'<]*\'))*)\s*(\/?)>|([^<]+))/s';
    $offset = 0;
    $length = strlen($xml);
    $root = null;
    $stack = [];
    while ($offset < $length) {
        if (!preg_match($pattern, $xml, $m, 0, $offset)) {
            throw new PanelError('malformed XML at byte ' . $offset);
        }
        $offset += strlen($m[0]);
        if (($m[1] ?? '') !== '' || ($m[2] ?? '') !== '') {
            continue; // declaration, processing instruction, comment
        }
        if (($m[4] ?? '') !== '') {
            throw new PanelError('a DOCTYPE or other declaration at byte ' . ($offset - 2) . ' is not accepted');
        }
        $is_text = isset($m[9]) && $m[9] !== '';
        $is_cdata = !$is_text && ($m[3] ?? '') !== '' && ($m[6] ?? '') === '';
        if ($is_text || $is_cdata) {
            $value = $is_text ? decode($m[9]) : $m[3];
            if ($stack) {
                $stack[count($stack) - 1]['text'] .= $value;
            } elseif (trim($value) !== '') {
                throw new PanelError('text outside the document element');
            }
            continue;
        }
        if (($m[6] ?? '') === '') {
            continue; // an empty CDATA section
        }
        if ($m[5] === '/') {
            $node = array_pop($stack);
            if ($node === null || $node['name'] !== $m[6]) {
                throw new PanelError('unexpected </' . $m[6] . '>');
            }
            if ($stack) {
                $stack[count($stack) - 1]['children'][] = $node;
            } else {
                $root = $node;
            }
            continue;
        }
        if ($root !== null) {
            throw new PanelError('a second document element <' . $m[6] . '>');
        }
        $attrs = [];
        preg_match_all('/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')/', $m[7], $pairs, PREG_SET_ORDER);
        foreach ($pairs as $pair) {
            $attrs[$pair[1]] = decode(isset($pair[3]) ? $pair[2] . $pair[3] : $pair[2]);
        }
        $node = ['name' => $m[6], 'attrs' => $attrs, 'children' => [], 'text' => ''];
        if ($m[8] === '/') {
            if ($stack) {
                $stack[count($stack) - 1]['children'][] = $node;
            } else {
                $root = $node;
            }
        } else {
            $stack[] = $node;
        }
    }
    if ($stack || $root === null) {
        throw new PanelError('the document ends before its elements are closed');
    }
    return $root;
}

/** Entity and character references of XML text. */
function decode(string $text): string
{
    if (strpos($text, '&') === false) {
        return $text;
    }
    $decoded = preg_replace_callback('/&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9A-Fa-f]+));/', function ($m) {
        if ($m[1] !== '') {
            return ['amp' => '&', 'lt' => '<', 'gt' => '>', 'quot' => '"', 'apos' => "'"][$m[1]];
        }
        $code = isset($m[3]) && $m[3] !== '' ? hexdec($m[3]) : (int) $m[2];
        return mb_chr_utf8((int) $code);
    }, $text);
    if (strpos($decoded, '&') !== false && preg_match('/&(?!amp;|lt;|gt;|quot;|apos;|#)/', $text)) {
        throw new PanelError('an unknown entity in the text');
    }
    return $decoded;
}

/** UTF-8 of a code point (without mbstring). */
function mb_chr_utf8(int $code): string
{
    if ($code < 0x80) {
        return chr($code);
    }
    if ($code < 0x800) {
        return chr(0xC0 | ($code >> 6)) . chr(0x80 | ($code & 0x3F));
    }
    if ($code < 0x10000) {
        return chr(0xE0 | ($code >> 12)) . chr(0x80 | (($code >> 6) & 0x3F)) . chr(0x80 | ($code & 0x3F));
    }
    return chr(0xF0 | ($code >> 18)) . chr(0x80 | (($code >> 12) & 0x3F)) . chr(0x80 | (($code >> 6) & 0x3F)) . chr(0x80 | ($code & 0x3F));
}
