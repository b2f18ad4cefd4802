"""The shim's connections to st2d (PROTOCOL.md): JSON lines over a Unix socket.

`Connection` (sensors) reads and writes on threads of its own: dispatches are pipelined and
trigger events arrive at any time. `RequestConnection` (actions) starts no thread: an action only
asks and is answered, so a request writes its line and reads until its answer; the end of st2d
is noticed through SIGIO (the socket is owned by the process with O_ASYNC), which takes the
action's whole process group down as a sensor's reader thread does.

Owns: framing, the pipelined dispatch window, request/response matching and trigger events.
Must not: know about sensors or actions beyond the callback it is given.
"""
import errno
import fcntl
import json
import os
import signal
import socket
import sys
import threading

WINDOW = 10000
REQUEST_TIMEOUT = 30.0
# The longest line st2d reads (PROTOCOL.md); it closes a connection that sends a longer one.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class ShimError(Exception):
    """A request the daemon answered with an error, or did not answer."""


def encode(message):
    """One protocol line, or ShimError naming the message when it is over st2d's limit."""
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ShimError("the %s message is %d bytes, over st2d's limit of %d bytes for one message"
                        % (message.get("op"), len(data), MAX_MESSAGE_BYTES))
    return data


class Connection(object):
    def __init__(self, path, token):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._reader = self._sock.makefile("rb")
        self._writer = self._sock.makefile("wb", buffering=1 << 16)
        self._write_lock = threading.Lock()
        self._queue = []
        self._queued = threading.Condition()
        self._state = threading.Condition()
        self._next_id = 0
        self._outstanding = 0
        self._results = {}
        self._closed = False
        self.on_trigger_event = None
        self._send({"op": "hello", "token": token, "pid": os.getpid()})
        line = self._reader.readline()
        if not line:
            raise ShimError("st2d closed the shim connection before welcome")
        self.welcome = json.loads(line)
        for target, name in ((self._read_loop, "st2d-shim-reader"), (self._write_loop, "st2d-shim-writer")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _send(self, message, flush=True):
        """Before the threads start: write directly. Afterwards everything goes through the queue."""
        data = encode(message)
        with self._write_lock:
            self._writer.write(data)
            if flush:
                self._writer.flush()

    def _enqueue(self, data):
        """Queues an encoded line."""
        with self._queued:
            self._queue.append(data)
            if len(self._queue) == 1:
                self._queued.notify()

    def _write_loop(self):
        """Writes whatever is queued in one go and flushes: batches under load, no delay when idle."""
        try:
            while True:
                with self._queued:
                    while not self._queue:
                        self._queued.wait()
                    batch, self._queue = self._queue, []
                with self._write_lock:
                    self._writer.write(b"".join(batch))
                    self._writer.flush()
        except (OSError, ValueError):
            pass

    def _new_id(self):
        with self._state:
            self._next_id += 1
            return self._next_id

    def _read_loop(self):
        try:
            for line in self._reader:
                message = json.loads(line)
                op = message.get("op")
                if op == "ack":
                    with self._state:
                        self._outstanding -= 1
                        self._state.notify_all()
                elif op == "result":
                    with self._state:
                        self._results[message.get("id")] = message
                        self._state.notify_all()
                elif op in ("add_trigger", "update_trigger", "remove_trigger") and self.on_trigger_event:
                    try:
                        self.on_trigger_event(op, message.get("trigger"))
                    except Exception:  # noqa: BLE001 - a sensor bug must not stop the reader
                        import traceback
                        traceback.print_exc()
        except (OSError, ValueError):
            pass
        # st2d is gone (or closed on us): end the whole process group, sensor children included.
        try:
            with self._state:
                self._closed = True
                self._state.notify_all()
            sys.stderr.write("st2d-shim: the connection to st2d closed; exiting\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - stderr may be a broken pipe when st2d died
            pass
        finally:
            try:
                # The sensor leads its own process group (st2d started it so): take it all down.
                if os.getpgid(0) == os.getpid():
                    os.killpg(os.getpid(), 9)
            finally:
                os._exit(1)

    def dispatch(self, trigger, payload, trace_tag=None, trace_context=None):
        """Sends a dispatch; waits while WINDOW are unacknowledged (st2d holds its acks while it
        takes no new instances)."""
        # Encoded once, before the id is known: the id goes in front of the other fields.
        fields = encode({"trigger": trigger, "payload": payload, "trace_tag": trace_tag,
                         "trace_context": trace_context, "op": "dispatch"})
        with self._state:
            while self._outstanding >= WINDOW and not self._closed:
                self._state.wait(1.0)
            self._outstanding += 1
            self._next_id += 1
            message_id = self._next_id
        self._enqueue(b'{"id":%d,%s' % (message_id, fields[1:]))

    def request(self, op, **fields):
        message_id = self._new_id()
        fields.update({"op": op, "id": message_id})
        self._enqueue(encode(fields))
        with self._state:
            ok = self._state.wait_for(lambda: message_id in self._results or self._closed, REQUEST_TIMEOUT)
            answer = self._results.pop(message_id, None)
        if not ok or answer is None:
            raise ShimError("st2d did not answer %s" % op)
        if answer.get("error"):
            raise ShimError(answer["error"])
        return answer.get("value")

    def drain(self, timeout=10.0):
        """Waits until every dispatch is acknowledged (journaled) by st2d."""
        with self._state:
            return self._state.wait_for(lambda: self._outstanding <= 0 or self._closed, timeout)


def _end_group(message):
    """st2d is gone: end this process group (the process leads it: st2d started it so)."""
    try:
        sys.stderr.write("st2d-shim: %s; exiting\n" % message)
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - stderr may be a broken pipe when st2d died
        pass
    try:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    finally:
        os._exit(1)


class RequestConnection(object):
    """One request at a time (a lock keeps an action's own threads in turn), no thread."""

    def __init__(self, path, token):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._reader = self._sock.makefile("rb")
        self._lock = threading.Lock()
        self._next_id = 0
        self._write({"op": "hello", "token": token, "pid": os.getpid()})
        line = self._reader.readline()
        if not line:
            raise ShimError("st2d closed the shim connection before welcome")
        self.welcome = json.loads(line)
        self._watch_hangup()

    def _write(self, message):
        self._sock.sendall(encode(message))

    def _watch_hangup(self):
        """SIGIO to this process when the socket becomes readable: an answer (nothing to do) or
        st2d's end (the peer closed)."""
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGIO, self._on_io)
        descriptor = self._sock.fileno()
        fcntl.fcntl(descriptor, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(descriptor, fcntl.F_SETFL, fcntl.fcntl(descriptor, fcntl.F_GETFL) | os.O_ASYNC)

    def _on_io(self, *_):
        try:
            peeked = self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                return  # an answer, read already by its request
            peeked = b""
        if not peeked:
            _end_group("the connection to st2d closed")

    def request(self, op, **fields):
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            fields.update({"op": op, "id": message_id})
            try:
                self._write(fields)
                while True:
                    line = self._reader.readline()
                    if not line:
                        _end_group("the connection to st2d closed")
                    answer = json.loads(line)
                    if answer.get("op") == "result" and answer.get("id") == message_id:
                        break
            except OSError as error:
                raise ShimError("st2d did not answer %s: %s" % (op, error))
        if answer.get("error"):
            raise ShimError(answer["error"])
        return answer.get("value")
