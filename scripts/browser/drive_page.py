#!/usr/bin/env python3
"""Drives the TGDM Studio page in headless Chromium over the DevTools protocol (standard library only).

Usage: drive_page.py DEVTOOLS_PORT PAGE_URL SCREENSHOT.png JUNK_FILE

Scenario (what a person does): pick the sample portrait, generate with an image driver, then with typed text
(emotion + intensity), start a long video job and cancel it, upload a non-image and read the one-line error,
then show the talking result next to the list of earlier jobs and take a screenshot. Any step that does not
happen in time fails the run with a message.
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.request


class WebSocket:
    """A minimal RFC 6455 client: text frames, masking, fragmented and long frames, ping/pong."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"websocket handshake refused: {head[:200]!r}")

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("DevTools connection closed")
            data += chunk
        return data

    def _send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise RuntimeError("DevTools closed the websocket")
            message += payload
            if b0 & 0x80:
                return message.decode()


class Page:
    def __init__(self, devtools_port):
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"script failed: {expression[:80]}: {r['exceptionDetails'].get('text')}")
        return r.get("result", {}).get("value")

    def wait(self, expression, what, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.js(expression):
                return
            time.sleep(0.25)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}; page says: {self.status()}")

    def status(self):
        return self.js("""JSON.stringify({state: document.getElementById('job-state').textContent,
            stage: document.getElementById('job-stage').textContent, frames: document.getElementById('job-frames').textContent,
            error: document.getElementById('job-error').textContent, form: document.getElementById('form-error').textContent})""")

    def click(self, selector):
        ok = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false; e.click(); return true; }})()")
        if not ok:
            raise RuntimeError(f"nothing to click at {selector}")

    def set_value(self, selector, value):
        self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.value = {json.dumps(value)}; e.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")

    def set_file(self, selector, path):
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", nodeId=node, files=[path])

    def current_job(self):
        return self.js("state.current ? state.current.id : null")


def step(message):
    print(f"browser test: {message}", flush=True)


def main():
    devtools_port, url, screenshot, junk = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    steps = os.environ.get("TGDM_BROWSER_STEPS", "10")
    p = Page(devtools_port)
    p.call("Page.enable")
    p.call("Emulation.setDeviceMetricsOverride", width=1360, height=820, deviceScaleFactor=1, mobile=False)
    p.call("Page.navigate", url=url)
    p.wait("document.querySelectorAll('#source-samples .sample').length > 0", "the sample gallery", 60)
    step("page loaded, samples listed")

    # 1. Image driver with the sample portrait and sample driving image.
    p.click('#source-samples [data-sample="source"]')
    p.click('.tab[data-driver="image"]')
    p.set_value("#steps", steps)
    p.click("#generate")
    p.wait("state.current && state.current.state === 'succeeded'", "the image job to succeed")
    p.wait("(() => { const m = document.getElementById('result-media'); return m && m.complete && m.naturalWidth > 0; })()",
           "the result image to show")
    step("image-driven job succeeded and its result is shown")

    # 2. Typed text spoken by espeak-ng, happy at intensity 2.5; progress must show frames and an ETA on the way.
    p.click('.tab[data-driver="text"]')
    p.set_value("#speech-text", "Hello! I am a talking face.")
    p.set_value("#emotion", "happy")
    p.set_value("#intensity", "2.5")
    p.click("#generate")
    p.wait("state.current && state.current.options.driver === 'text'", "the text job to be submitted", 30)
    text_job = p.current_job()
    p.wait("/frames \\d+ \\/ \\d+/.test(document.getElementById('job-frames').textContent) || state.current.state === 'succeeded'",
           "frame progress", 300)
    step(f"live progress: {p.js('document.getElementById(`job-frames`).textContent')!r}")
    p.wait("state.current && state.current.state === 'succeeded'", "the text job to succeed", 600)
    p.wait("(() => { const v = document.getElementById('result-media'); return v && v.tagName === 'VIDEO' && v.readyState >= 2; })()",
           "the MP4 to play", 60)
    step("text-driven job succeeded; the MP4 plays in the page")

    # 3. A long video job, cancelled from the page.
    p.click('.tab[data-driver="video"]')
    p.set_value("#steps", "1000")
    p.click("#generate")
    p.wait("state.current && state.current.options.driver === 'video' && state.current.state === 'running'", "the video job to run", 120)
    p.click("#cancel")
    p.wait("state.current && state.current.state === 'cancelled'", "the cancel to take effect", 120)
    step("video job cancelled from the page")

    # 4. A bad upload: the CLI's one-line error appears under the form.
    p.click('.tab[data-driver="image"]')
    p.set_file("#source-file", junk)
    p.click("#generate")
    p.wait("document.getElementById('form-error').textContent.startsWith('error: ')", "the upload error", 30)
    error = p.js("document.getElementById('form-error').textContent")
    if "not a PNG or JPEG" not in error:
        raise RuntimeError(f"unexpected error line: {error!r}")
    step(f"bad upload refused: {error!r}")
    p.js("document.getElementById('source-file').value = ''; document.getElementById('form-error').textContent = ''")
    p.set_value("#steps", steps)

    # 5. The earlier jobs list has thumbnails; show the talking result and take the screenshot.
    p.wait("document.querySelectorAll('#jobs .job').length >= 3", "the job list", 30)
    p.wait("[...document.querySelectorAll('#jobs img')].filter(i => i.complete && i.naturalWidth > 0).length >= 2",
           "the thumbnails", 30)
    p.click(f'#jobs [data-job="{text_job}"]')
    p.click('.tab[data-driver="text"]')
    p.wait("(() => { const v = document.getElementById('result-media'); return v && v.readyState >= 2; })()", "the MP4", 60)
    p.js("(() => { const v = document.getElementById('result-media'); v.pause(); v.currentTime = Math.min(0.6, v.duration / 2); })()")
    time.sleep(1.0)
    shot = p.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    step(f"screenshot written to {screenshot}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, like the CLI
        print(f"browser test: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
