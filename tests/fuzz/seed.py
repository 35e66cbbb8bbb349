#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/corpus/<harness>/ (run from anywhere;
rewrites the files it owns). Sources: the transformer vectors, the example
and deployment configurations, and hand-written hostile inputs."""
import base64, glob, hashlib, hmac, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


# --- fuzz_transform: the vectors' raw values, then hostile inputs --------
urls = []
for path in sorted(glob.glob(os.path.join(ROOT, "tests/vectors/*.json"))):
    with open(path, encoding="utf-8") as f:
        vec = json.load(f)
    raw = vec["raw"]
    name = "vec-" + os.path.basename(path)[:-5]
    put("fuzz_transform", name, raw if isinstance(raw, str) else compact(raw))
    if isinstance(raw, dict):
        page = raw.get("context", {}).get("page", {})
        if "url" in page:
            urls.append(page["url"])

base = ('{"type":"track","event":"Flow Completed","userId":"1",'
        '"properties":{"flow_id":%s},"context":{"app_token":"NX-1"}%s}')
hostile = {
    "deep-array": base % ("[" * 200 + "]" * 200, ""),
    "deep-object": base % ('{"a":' * 100 + "1" + "}" * 100, ""),
    "deep-64": base % ("[" * 62 + "1" + "]" * 62, ""),
    "deep-unclosed": "{" + '"a":[' * 70,
    "huge-int": base % ("123456789012345678901234567890", ""),
    "uint64-max": base % ("18446744073709551615", ""),
    "uint64-max-plus-1": base % ("18446744073709551616", ""),
    "int64-min": base % ("-9223372036854775808", ""),
    "int64-min-minus-1": base % ("-9223372036854775809", ""),
    "minus-zero": base % ("-0", ""),
    "huge-exp": base % ("1e400", ""),
    "tiny-exp": base % ("-1E-400", ""),
    "nan": base % ("NaN", ""),
    "infinity": base % ("-Infinity", ""),
    "leading-zero": base % ("01", ""),
    "ts-huge": base % ("1", ',"timestamp":99999999999999999999'),
    "ts-neg": base % ("1", ',"timestamp":-62135596800001'),
    "ts-string-ms": base % ("1", ',"timestamp":"-000000000000000001"'),
    "ts-iso-offset": base % ("1", ',"timestamp":"2024-02-29T23:59:60.999-23:59"'),
    "ts-iso-bad": base % ("1", ',"timestamp":"2023-02-29T24:00:00Z"'),
    "ts-year0": base % ("1", ',"timestamp":"0000-01-01 00:00"'),
    "messageid-ctl": base % ("1", ',"messageId":"a\\r\\nX-Evil: 1"'),
    "messageid-nul": base % ("1", ',"messageId":"a\\u0000b"'),
    "messageid-long": base % ("1", ',"messageId":"' + "m" * 600 + '"'),
    "messageid-num": base % ("1", ',"messageId":1e3'),
    "userid-big": base.replace('"1"', "184467440737095516150", 1) % ("1", ""),
    "userid-float": base.replace('"1"', "1.50", 1) % ("1", ""),
    "event-nul": base.replace("Flow Completed", "Flow Completed\\u0000x") % ("1", ""),
    "single-quotes": "{'type':'track'}",
    "trailing": base % ("1", "") + " x",
    "trailing-ws": base % ("1", "") + " \n\t\r",
    "bom": "\ufeff" + base % ("1", ""),
    "empty": "",
    "ws-only": " \n ",
    "array": "[1,2,3]",
    "string": '"track"',
    "lone-surrogate": base % ('"\\ud800"', ""),
    "surrogate-pair": base % ('"\\ud83d\\ude00"', ""),
    "escapes": base % ('"\\"\\\\\\/\\b\\f\\n\\r\\t\\u001f"', ""),
    "dup-keys": '{"type":"track","type":"identify","event":"Flow Completed"}',
    "nps-all": ('{"type":"track","event":"NPS Feedback Submitted","userId":7,'
                '"context":{"app_token":"NX","traits":{"name":null,"email":[]},'
                '"groupId":12345678901234567890123,"group":{"name":{"x":1}}},'
                '"properties":{"survey_question":"q","score":10,'
                '"follow_up_question":"f","feedback":"\u00e9\U0001f600"}}'),
    "custom-mapping": ('{"type":"track","event":"Trial Started","userId":"u",'
                       '"context":{"app_token":"NX"},"properties":{"id":"t-1"}}'),
    "group-nulls": base % ("1", ',"context":{"group":{"a":null}}'),
}
for k, v in hostile.items():
    put("fuzz_transform", "bad-" + k, v)
bad_bytes = {
    "invalid-utf8": b'{"type":"track","event":"Flow Completed\xff","userId":"1"}',
    "overlong-utf8": b'{"type":"\xc0\xafrack"}',
    "surrogate-utf8": b'{"type":"track","event":"\xed\xa0\x80"}',
    "above-10ffff": b'{"type":"\xf4\x90\x80\x80"}',
    "truncated-utf8": b'{"type":"\xe2\x82',
    "raw-ctl": b'{"type":"tr\x01ack"}',
    "nul-in-message": b'{"type":"track"}\x00{"a":1}',
}
for k, v in bad_bytes.items():
    put("fuzz_transform", "bad-" + k, v)

# --- fuzz_url: page URLs and CIDR lists ----------------------------------
url_seeds = urls + [
    "HTTPS://User:Pa%40ss@Demo.Example.COM:8443/A/b?x=1#frag",
    "https://demo.userpilot.io",
    "https://demo.userpilot.io?q=1",
    "https://demo.userpilot.io#top",
    "//cdn.example.com/path",
    "/relative/path?x#y",
    "http://[::1]:8080/v6",
    "http://[fe80::1%25eth0]/zone",
    "http://[::1",
    "http://a@b@c/d",
    "http://host:99999999999999999999/",
    "mailto:someone@example.com",
    "javascript:alert(1)",
    "http://",
    "http:///x",
    "://x",
    "",
    "?",
    "#",
    "h\u00c9ll\u00f6://x/y",
    "http://\u00c9xample.com/\u00e9",
    "http://exa\u0000mple.com/a\u0000b",
    "http://example.com\r\nHost: evil/",
    "a" * 300,
    "127.0.0.0/8\n::1/128\n10.1.2.3",
    "0.0.0.0/0\n::/0",
    "1.2.3.4/33\n::1/129",
    "::ffff:127.0.0.1/128\n64:ff9b::/96",
    "10.0.0.0/-1\n10.0.0.0/\n/8",
    "192.168.1.1/08\n192.168.1.1/ 8\n192.168.001.1",
]
for i, u in enumerate(url_seeds):
    put("fuzz_url", "seed-%02d" % i, u)
put("fuzz_url", "seed-bytes-invalid", b"http://ex\xffample.com/\xc3(\x80")

# --- fuzz_retry_after ----------------------------------------------------
ra = ["0", "1", "120", " 5 ", "\t7\r\n", "604800", "604801",
      "99999999999999999999999999", "-1", "1.5", "", " ", "5 5", "+3",
      "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
      "Sun Nov  6 08:49:37 1994", "Sun Nov 16 08:49:37 1994",
      "Thu, 29 Feb 2024 23:59:60 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
      "Thu, 01 Jan 1970 00:00:00 GMT", "Mon, 00 Jan 2024 00:00:00 GMT",
      "Mon, 31 Apr 2024 00:00:00 GMT", "Mon, 01 Jan 0000 00:00:00 GMT",
      "Wednesday, 31-Dec-69 23:59:59 GMT", "sun, 06 nov 1994 08:49:37 gmt",
      "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT\r\n",
      "Sun, 06 Nov 1994 25:61:61 GMT", "Sun Nov  6 08:49:37 1994 extra"]
for i, v in enumerate(ra):
    put("fuzz_retry_after", "seed-%02d" % i, v)

# --- fuzz_sign: secret NUL header, or a header alone ---------------------
MSG_ID, TS = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "1674087231"
BODY = '{"type":"flows.completed","data":{}}'
DEFAULT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def key_of(secret):
    if secret.startswith("whsec_"):
        s = secret[6:]
        return base64.b64decode(s + "=" * (-len(s) % 4))
    return secret.encode()


def std(secret):
    mac = hmac.new(key_of(secret), ("%s.%s.%s" % (MSG_ID, TS, BODY)).encode(),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def up(secret, ts=TS):
    mac = hmac.new(key_of(secret), ("%s.%s" % (BODY, ts)).encode(),
                   hashlib.sha256).hexdigest()
    return "t=%s,v1=%s" % (ts, mac)


sign = {
    "std-valid": std(DEFAULT),
    "std-rotation": "v1,AAAA " + std(DEFAULT) + "  v2,x",
    "std-wrong": "v1," + "A" * 44,
    "up-valid": up(DEFAULT),
    "up-upper": up(DEFAULT).upper().replace("T=", "t=").replace("V1=", "v1="),
    "up-two-entries": "t=1,v1=00 " + up(DEFAULT),
    "up-leading-zero-t": up(DEFAULT, "0001"),
    "up-long-t": "t=123456789012345678901,v1=" + "0" * 64,
    "empty-header": "",
    "spaces": "     ",
}
for k, v in sign.items():
    put("fuzz_sign", "hdr-" + k, v)
secrets = {"raw": "a-raw-shared-secret", "whsec-nopad": "whsec_dGVzdA",
           "whsec-pad": "whsec_dGVzdA==", "whsec-bad": "whsec_!!!!",
           "whsec-empty": "whsec_", "whsec-one": "whsec_A",
           "whsec-ws": "whsec_dGVz dA==", "whsec-3pad": "whsec_dGVzdA===",
           "whsec-url-safe": "whsec_-_-_"}
for k, s in secrets.items():
    put("fuzz_sign", "key-" + k, s + "\0" + std(s if k.startswith("raw") or
                                               k in ("whsec-nopad", "whsec-pad")
                                               else DEFAULT))
put("fuzz_sign", "key-raw-up", "a-raw-shared-secret\0" + up("a-raw-shared-secret"))

# --- fuzz_config ---------------------------------------------------------
for rel in ("config/hookbridge.example.cfg", "deploy/hookbridge.cfg"):
    with open(os.path.join(ROOT, rel), "rb") as f:
        put("fuzz_config", os.path.basename(os.path.dirname(rel)) + "-" +
            os.path.basename(rel), f.read())
MIN = ('kafka = { brokers = "127.0.0.1:9092"; topics = ( "events" ); };\n'
       'webhooks = ( { name = "a"; url = "https://example.com/h"; '
       'events = [ "*" ]; %s } );\n%s')
cfgs = {
    "minimal": MIN % ("", ""),
    "secret-env": MIN % ('secret_env = "HB_FUZZ_SECRET";', ""),
    "secret-file": MIN % ('secret_file = "secret.txt"; '
                          'previous_secret = "whsec_dGVzdA==";', ""),
    "secret-missing-file": MIN % ('secret_file = "nope.txt";', ""),
    "secret-env-unset": MIN % ('secret_env = "HB_FUZZ_NOT_SET";', ""),
    "secret-bad-b64": MIN % ('secret = "whsec_not base64!";', ""),
    "tls": MIN % ('tls = { ca_file = "ca.pem"; client_cert = "ca.pem"; '
                  'client_key = "ca.pem"; };', ""),
    "headers": MIN % ('headers = [ "Authorization: Bearer x", '
                      '"X-A: b\\r\\nX-Evil: 1", "Host: evil", "Bad Name: v", '
                      '"NoColon", ":x", "X-Empty:   " ];', ""),
    "userpilot": MIN % ('signature = "userpilot"; secret = "raw";', ""),
    "props-11": MIN % ('user_properties = [ "a","b","c","d","e","f" ]; '
                       'company_properties = [ "g","h","i","j","k" ];', ""),
    "events-toggle": MIN.replace('events = [ "*" ]; ',
                                 'events = ( "*", { type = "nps.score"; '
                                 'enabled = false; }, "trial.started" ); ')
    % ("", 'mappings = ( { event = "Trial Started"; type = "trial.started"; }'
           ', { event = "X"; type = "bad type" } );\n'),
    "delivery": MIN % ("", 'delivery = { allow_networks = [ "127.0.0.0/8", '
                           '"::1/128", "10.1.2.3", "300.1.1.1/8" ]; '
                           'https_only = true; retry = { initial_ms = 9; '
                           'max_ms = 1; }; on_exhausted = "dead_letter"; '
                           'circuit = { failures = 0; open_ms = 100; }; };\n'),
    "kafka-props": MIN.replace('topics = ( "events" );',
                               'topics = ( "events" ); properties = [ '
                               '"security.protocol=SASL_SSL", '
                               '"sasl.mechanism=SCRAM-SHA-512", '
                               '"sasl.username=u", "sasl.password=p4ss", '
                               '"group.id=x", "nope.key=1", '
                               '"session.timeout.ms=abc" ];') % ("", ""),
    "admin": MIN % ("", 'admin = { listen = "[::1]:9464"; '
                        'token_env = "HB_FUZZ_TOKEN"; };\n'
                        'log = { level = "debug"; format = "json"; };\n'),
    "unknown-settings": MIN % ('secrte = "x"; retry = { max_atempts = 3; };',
                               "extra = 1;\n"),
    "dup-names": ('kafka = { brokers = "b"; topics = ( "t", "t" ); };\n'
                  'webhooks = ( { name = "a"; url = "http://x"; events = '
                  '[ "*" ]; }, { name = "a"; url = "ftp://y"; events = [ ]; } );'),
    "syntax-error": "kafka = { brokers = ; };",
    "deep-groups": "a = " + "{ b = " * 200 + "1;" + " };" * 200,
    "big-numbers": MIN % ('timeout_ms = 99999999999999999999; max_in_flight '
                          '= -1;', 'delivery = { concurrency = 0x7fffffff; };\n'),
    "binary": b"kafka = { brokers = \"\xff\xfe\"; };\x00\x01",
    # @include: the work directory's fixtures (fuzz_config.c) and the
    # system's pseudo files; none may hang or end the loader
    "include-ok": MIN % ("", '@include "inc-ok.cfg"\n'),
    "include-dir": MIN % ("", '  @include "inc-dir"\n'),
    "include-fifo": MIN % ("", '@include "inc-fifo"\n'),
    "include-big": MIN % ("", '@include "inc-big.cfg"\n'),
    "include-self": MIN % ("", '@include "inc-self.cfg"\n'),
    "include-nul": MIN % ("", '@include "inc-nul.cfg"\n'),
    "include-proc": MIN % ("", '@include "/proc/self/mem"\n'
                               '@include "/proc/self/environ"\n'),
    "include-dev-sys": MIN % ("", '@include "/dev/zero"\n'
                                  '@include "/sys/kernel/mm/'
                                  'transparent_hugepage/enabled"\n'),
    "include-commented": MIN % ("", '/* @include "/dev/zero" */\n'
                                    '# @include "inc-fifo"\n'),
    # settings that load code or run a command: refused, or allowed and
    # still never loaded by loading the file
    "plugin-refused": MIN.replace('topics = ( "events" );',
                                  'topics = ( "events" ); properties = [ '
                                  '"plugin.library.paths=./canary.so" ];')
    % ("", ""),
    "plugin-allowed": MIN.replace('topics = ( "events" );',
                                  'topics = ( "events" ); '
                                  'allow_code_loading = true; properties = [ '
                                  '"plugin.library.paths=./canary.so", '
                                  '"canary.setting=1" ];') % ("", ""),
    "code-settings": MIN.replace('topics = ( "events" );',
                                 'topics = ( "events" ); properties = [ '
                                 '"ssl.engine.location=./canary.so", '
                                 '"ssl.providers=legacy", '
                                 '"sasl.kerberos.kinit.cmd=touch x", '
                                 '"security.protocol=SASL_SSL" ];') % ("", ""),
    "wrapped-ints": MIN % ('timeout_ms = 4294968296; max_in_flight = '
                           '0x1000003E8;', 'delivery = { concurrency = 8L; '
                           'timeout_ms = "a\\x00b"; };\n'),
    "bad-urls": MIN.replace('"https://example.com/h"', '"http://[::1/"')
    % ("", 'webhooks2 = "http://x:99999/";\n'),
}
for k, v in cfgs.items():
    put("fuzz_config", "seed-" + k, v)

# --- fuzz_hook: webhooks as JSON (the store's records) -------------------
hook = {"format": 1, "app_token": "NX-acme", "name": "crm",
        "url": "https://example.com/hook", "enabled": True,
        "events": [{"type": "flows.completed", "enabled": True},
                   {"type": "nps.score", "enabled": False}, "trial.started"],
        "user_properties": ["plan", "role"], "company_properties": ["tier"],
        "signature": "standard", "headers": ["X-Team: growth"],
        "rate_limit": 5}
put("fuzz_hook", "seed-full", compact(hook))
put("fuzz_hook", "seed-minimal", compact({"format": 1, "app_token": "a",
                                          "name": "n", "url": "http://h/",
                                          "events": ["*"]}))
put("fuzz_hook", "seed-bad-fields",
    compact(dict(hook, colour=1, name="", url="ftp://x", events=[],
                 headers=["Content-Type: x", "NoColon"],
                 secret_sealed="v1.AAAA", signature="userpilot")))
put("fuzz_hook", "seed-sealed", "v1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd")
# ... and as the management API takes them (no format or app_token, the
# secret in plaintext)
body = {k: v for k, v in hook.items() if k not in ("format", "app_token")}
body["events"] = ["flows.completed", {"type": "*", "enabled": True},
                  {"type": "nps.score", "enabled": False}]
put("fuzz_hook", "seed-body-full",
    compact(dict(body, secret="whsec_MTIzNDU2Nzg5MDEyMzQ1Ng==",
                 signature="userpilot")))
put("fuzz_hook", "seed-body-bad",
    compact(dict(body, id="wh_x", version=3, secret="", enabled="yes",
                 user_properties=[1, "a", "a"])))
