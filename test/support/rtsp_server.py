#!/usr/bin/python3
"""An RTSP test server: serves an MP4/H.264 clip in an endless loop on 127.0.0.1, for streams/ tests.

Usage: /usr/bin/python3 rtsp_server.py --port P --clip FILE [--path /cam]
Prints "READY <port>" on stdout once it listens. SIGTERM/SIGINT stop it; it also dies with its parent.

Why not `filesrc ! qtdemux ! h264parse ! rtph264pay` as the media pipeline: a file source ends (EOS) after one
pass, and looping it inside gst-rtsp-server's pipeline needs seeks and timestamp offsets on a pipeline the
server owns; `multifilesrc loop=true` on an Annex-B file loops but leaves every timestamp at 0. Instead the
clip's H.264 access units are demuxed once into memory, and a timer pushes them in a loop, at the clip's
frame rate, into an `appsrc do-timestamp=true` in each media pipeline: timestamps are the pipeline's running
time, so they always increase, the loop is seamless, nothing is re-encoded (no x264enc or libav needed), and
after SIGSTOP/SIGCONT the server just carries on from the current time.
"""

import argparse
import ctypes
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

# Enough for minutes of a small test clip; a guard against being handed a feature film.
MAX_UNITS = 20_000
# Per-client queue bound: a client that stops reading (or a paused server catching up) must not grow memory.
MAX_QUEUED_BYTES = 4 * 1024 * 1024


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel sends SIGTERM when the parent dies, so a crashed test run leaves no server."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def load_access_units(clip: str):
    """Demuxes the clip into Annex-B access units (SPS/PPS repeated before every keyframe)."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{clip}" ! qtdemux ! h264parse config-interval=-1 '
        "! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    units = []
    caps = None
    idle_seconds = 0
    try:
        while len(units) < MAX_UNITS:
            # try-pull: a plain pull-sample blocks forever when the pipeline fails instead of ending.
            sample = sink.emit("try-pull-sample", Gst.SECOND)
            if sample is None:
                error = bus.pop_filtered(Gst.MessageType.ERROR)
                if error is not None:
                    err, _debug = error.parse_error()
                    raise RuntimeError(f"cannot read {clip}: {err.message}")
                if sink.get_property("eos"):
                    break
                idle_seconds += 1
                if idle_seconds > 10:
                    raise RuntimeError(f"cannot read {clip}: no data after 10 s")
                continue
            buf = sample.get_buffer()
            if caps is None:
                caps = sample.get_caps()
            ok, info = buf.map(Gst.MapFlags.READ)
            if not ok:
                continue
            units.append((bytes(info.data), not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))
            buf.unmap(info)
    finally:
        pipeline.set_state(Gst.State.NULL)
    if not units or caps is None:
        raise RuntimeError(f"no H.264 video in {clip}")
    if not any(key for _data, key in units):
        raise RuntimeError(f"no keyframe in {clip}")
    fps = 25.0
    structure = caps.get_structure(0)
    ok, num, den = structure.get_fraction("framerate")
    if ok and num > 0 and den > 0:
        fps = num / den
    return units, caps, fps


def playing(appsrc) -> bool:
    """Whether the appsrc is PLAYING, which is when do-timestamp gives running times.

    While its pipeline goes to PLAYING, an appsrc has a clock but not yet its base time for a moment, and a buffer
    pushed then is stamped with the clock's absolute time (the machine's uptime, hours): the media's sink waits
    for that running time and the client gets nothing more. Measured: 1 restart in ~15 under load hung 10 s.
    """
    _ret, state, _pending = appsrc.get_state(0)
    return state == Gst.State.PLAYING


class Looper:
    """Pushes the clip's access units, in a loop and in real time, to every connected media's appsrc.

    Like a camera server's GOP cache, a client that starts (re)playing first gets the units since the latest keyframe
    in one burst, so its decoder starts at once instead of waiting up to a GOP for the next keyframe.
    """

    def __init__(self, units, caps, fps: float):
        self.units = units
        self.caps = caps
        self.interval = 1.0 / fps
        self.duration = int(Gst.SECOND / fps)
        self.next_at = time.monotonic()
        # appsrc -> True while it needs the burst (new, or just started playing)
        self.sources = {}
        # Indexes of the units pushed since (and including) the latest keyframe.
        self.gop = []
        # Start the loop on its first keyframe, so the GOP cache is never a partial GOP.
        self.index = next(i for i, (_data, key) in enumerate(units) if key)

    def attach(self, media) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        appsrc.set_property("caps", self.caps)
        self.sources[appsrc] = True
        media.connect("unprepared", lambda _m: self.sources.pop(appsrc, None))

    def on_play(self, media) -> None:
        # Units pushed while the media was prepared (DESCRIBE) went nowhere: a client only receives after its PLAY.
        appsrc = media.get_element().get_child_by_name("src") if media is not None else None
        if appsrc in self.sources:
            self.sources[appsrc] = True

    def push(self, appsrc, index: int) -> None:
        if appsrc.get_property("current-level-bytes") > MAX_QUEUED_BYTES:
            return
        data, key = self.units[index]
        buf = Gst.Buffer.new_wrapped(data)
        buf.duration = self.duration
        if not key:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        appsrc.emit("push-buffer", buf)

    def tick(self) -> bool:
        for appsrc, needs_burst in list(self.sources.items()):
            if not playing(appsrc):
                self.sources[appsrc] = True
                continue
            if needs_burst:
                self.sources[appsrc] = False
                for index in self.gop:
                    self.push(appsrc, index)
        now = time.monotonic()
        if now - self.next_at > 1.0:
            # Far behind (the process was SIGSTOPped, or starved): resume from now instead of bursting.
            self.next_at = now
        while self.next_at <= now:
            index = self.index
            self.index = (self.index + 1) % len(self.units)
            self.next_at += self.interval
            if self.units[index][1]:
                self.gop = [index]
            else:
                self.gop.append(index)
            for appsrc, needs_burst in list(self.sources.items()):
                if not needs_burst:
                    self.push(appsrc, index)
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clip", required=True, help="an MP4 file with an H.264 video track")
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    die_with_parent()
    Gst.init(None)
    try:
        units, caps, fps = load_access_units(args.clip)
    except RuntimeError as err:
        print(f"rtsp_server: {err}", file=sys.stderr, flush=True)
        return 2
    looper = Looper(units, caps, fps)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( appsrc name=src is-live=true format=time do-timestamp=true"
        f" max-bytes={MAX_QUEUED_BYTES} block=false"
        " ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    # A pipeline per client: a client's start-up burst (see Looper) then never replays frames to another client.
    factory.set_shared(False)
    factory.connect("media-configure", lambda _f, media: looper.attach(media))

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.path, factory)
    server.connect(
        "client-connected",
        lambda _s, client: client.connect("play-request", lambda _c, ctx: looper.on_play(ctx.media)),
    )
    # attach() returns 0 (after a GLib warning) when it cannot listen, e.g. the port is taken.
    if server.attach(None) == 0:
        print(f"rtsp_server: cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        return 3

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, lambda: (loop.quit(), False)[1])
    # 5 ms ticks: fine enough for any test frame rate, and catches up on the schedule kept in Looper.
    GLib.timeout_add(5, looper.tick)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
