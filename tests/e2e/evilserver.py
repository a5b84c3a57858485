# tests/e2e/evilserver.py PORTFILE LOGFILE -- a web server on a loopback
# port of the kernel's choosing that stands for "another origin": the
# hostile mail points its images, style sheets, frames and forms here, and
# the desk test asserts that nothing ever arrives.  Writes its port to
# PORTFILE, one line per request to LOGFILE; runs until killed.
import http.server
import sys

port_file, log_file = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def _hit(self):
        with open(log_file, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = _hit

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
open(log_file, "a").close()
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
