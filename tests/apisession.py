"""tests/apisession.py -- a signed-in session of a running atumd for the
test scripts (tests/integration/*_check.py): signs in with a password,
then calls the API with the session's cookie and, for a change, its CSRF
token.  raw() answers (status, JSON body or None, headers with lower-case
names); call() fails the script unless the status is the one wanted."""
import json
import sys
import urllib.error
import urllib.request


def fail(msg):
    print(msg)
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


class ApiSession:
    def __init__(self, base, email, password):
        self.base = base
        st, js, h = self.raw("POST", "/api/v1/auth/login", {"email": email, "password": password}, auth=False)
        expect(st == 200, "login %s: %s %s" % (email, st, js))
        self.cookie = h["set-cookie"].split(";")[0]
        self.csrf = js["csrf_token"]
        self.user = js["user"]

    def raw(self, method, path, body=None, headers=None, auth=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Cookie", self.cookie)
            if method not in ("GET", "HEAD"):
                req.add_header("X-CSRF-Token", self.csrf)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                txt = res.read()
                return res.status, (json.loads(txt) if txt else None), {k.lower(): v for k, v in res.headers.items()}
        except urllib.error.HTTPError as e:
            txt = e.read()
            return e.code, (json.loads(txt) if txt else None), {k.lower(): v for k, v in e.headers.items()}

    def call(self, method, path, body=None, want=None, headers=None):
        st, js, h = self.raw(method, path, body, headers=headers)
        if want is not None and st != want:
            fail("%s %s: %s, not %s: %s" % (method, path, st, want, js))
        return js
