"""The controller firmware's C++ wire code, compiled with g++ and checked against Python.

firmware_bridge/test_vectors.json and the Python FrameDecoder are the reference; the C++
programs under firmware_bridge/firmware/host_test/ do the comparing and print one line per
check. Nothing here is generated into the source tree: binaries go to a temp dir.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_bridge.codec import HEADER, VERSION, FrameDecoder, cobs_encode, crc16, encode_frame
from firmware_bridge.frames import (
    Ack,
    Alarm,
    AlarmKind,
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    FrameType,
    Heartbeat,
    Hello,
    Nak,
    NakReason,
    QrScan,
    Unlock,
)
from firmware_bridge.vectors import PATH, frame_from_fields

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware_bridge" / "firmware"
SKETCH = FIRMWARE / "toolhut_controller"
HOST_TEST = FIRMWARE / "host_test"
CXXFLAGS = ["-std=c++11", "-Wall", "-Wextra", "-Werror", "-O2"]
GXX = shutil.which("g++")

pytestmark = pytest.mark.skipif(
    GXX is None,
    reason="g++ NOT FOUND: the C++ firmware codec was NOT checked against the test vectors "
    "(apt-get install g++)",
)


def _compile(out: Path, *sources: Path) -> Path:
    assert GXX is not None
    result = subprocess.run(
        [GXX, *CXXFLAGS, "-o", str(out), *map(str, sources)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"g++ failed:\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def vectors_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("firmware") / "vectors_check"
    return _compile(out, HOST_TEST / "vectors_check.cpp", SKETCH / "wire.cpp")


@pytest.fixture(scope="module")
def link_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("firmware") / "link_check"
    return _compile(
        out,
        HOST_TEST / "link_check.cpp",
        SKETCH / "wire.cpp",
        SKETCH / "link.cpp",
        SKETCH / "hut_logic.cpp",
    )


def _run(binary: Path, stdin: str = "") -> tuple[int, list[str]]:
    result = subprocess.run([str(binary)], input=stdin, capture_output=True, text=True, timeout=60)
    assert not result.stderr, result.stderr
    return result.returncode, result.stdout.splitlines()


# -- the textual forms vectors_check.cpp reads (see its header comment) --------------------


def _canon(seq: int, frame: Frame) -> str:
    """One frame as TYPE/SEQ/fields..., texts and bytes as upper-case hex."""
    head = f"{frame.TYPE.name}/{seq}/"
    match frame:
        case Hello(firmware=text) | QrScan(text=text):
            return head + text.encode().hex().upper()
        case CardRead(uid=uid):
            return head + uid.hex().upper()
        case Heartbeat(uptime_s=value) | Ack(seq=value) | Unlock(pulse_ms=value):
            return head + str(value)
        case Nak(seq=refused, reason=reason):
            return head + f"{refused}/{int(reason)}"
        case DoorChanged(open=is_open):
            return head + str(int(is_open))
        case Alarm(kind=kind, active=active):
            return head + f"{int(kind)}/{int(active)}"
        case Feedback(beep=beep, text=text):
            return head + f"{int(beep)}/{text.encode().hex().upper()}"
    raise AssertionError(f"no canonical form for {frame!r}")


def _python_outcome(data: bytes) -> str:
    """What Python's FrameDecoder makes of ``data``, fed byte by byte, in order."""
    items: list[str] = []
    decoder = FrameDecoder(on_reject=lambda seq, why: items.append(f"reject/{seq}/{int(why)}"))
    for i in range(len(data)):
        items.extend(_canon(d.seq, d.frame) for d in decoder.feed(data[i : i + 1]))
    s = decoder.stats
    items.append(
        f"stats/{s.frames},{s.garbage_bytes},{s.bad_crc},{s.oversize},"
        f"{s.malformed},{s.unknown_type}"
    )
    return ";".join(items)


def _vector_lines() -> list[str]:
    lines = []
    for v in json.loads(PATH.read_text(encoding="utf-8")):
        if v["reject"] is None:
            frame = frame_from_fields(v["frame"])
            lines.append(f"valid {v['name']} {v['seq']} {v['hex']} {_canon(v['seq'], frame)}")
        else:
            outcome = _python_outcome(bytes.fromhex(v["hex"]))
            lines.append(f"reject {v['name']} {v['hex']} {v['reject']} {outcome}")
    return lines


def _summary(lines: list[str]) -> tuple[int, int]:
    passed, _, failed, _ = lines[-1].split()
    return int(passed), int(failed)


def test_firmware_codec_reproduces_every_test_vector(vectors_check: Path) -> None:
    vectors = json.loads(PATH.read_text(encoding="utf-8"))
    code, out = _run(vectors_check, "\n".join(_vector_lines()) + "\n")
    failures = [line for line in out if line.startswith("FAIL")]
    assert code == 0 and not failures, "\n".join(failures)
    assert f"vectors checked: {len(vectors)}" in out
    for v in vectors:  # each vector got its own checks, by name
        assert any(line.startswith(f"ok   {v['name']}: ") for line in out), v["name"]
    passed, failed = _summary(out)
    assert failed == 0 and passed >= 4 * len(vectors)


def test_firmware_check_fails_on_a_wrong_vector(vectors_check: Path) -> None:
    # The comparison has teeth: one flipped CRC byte in an expected encoding fails it.
    line = next(x for x in _vector_lines() if x.startswith("valid card_4_bytes "))
    wrong = line.replace("581E00", "581F00")
    code, out = _run(vectors_check, wrong + "\n")
    assert code == 1
    assert "FAIL card_4_bytes: encode: got 0003011009030404A1B2C3581E00" in out
    assert _summary(out)[1] >= 1


def _good_frame(rng: random.Random) -> bytes:
    text = "".join(rng.choice("ab电钻 :-0") for _ in range(rng.randint(1, 30)))
    frames: list[Frame] = [
        Hello(text),
        Heartbeat(rng.randrange(2**32)),
        Ack(rng.randrange(2**16)),
        Nak(rng.randrange(2**16), rng.choice(list(NakReason))),
        CardRead(rng.randbytes(rng.choice([4, 7, 10]))),
        QrScan(text),
        DoorChanged(open=rng.random() < 0.5),
        Alarm(rng.choice(list(AlarmKind)), active=rng.random() < 0.5),
        Unlock(rng.randint(1, 0xFFFF)),
        Feedback(rng.choice(list(Beep)), text[:20]),
    ]
    return encode_frame(rng.randrange(2**16), rng.choice(frames))


def _hand_built(rng: random.Random) -> bytes:
    """A frame with a good CRC but something else wrong, built as a buggy peer would."""
    type_code = rng.choice([0x7F, 0x00, *[int(t) for t in FrameType]])
    payload = rng.randbytes(rng.randint(0, 12))
    version = VERSION if rng.random() < 0.8 else 2
    length = len(payload) if rng.random() < 0.8 else rng.randrange(256)
    raw = HEADER.pack(version, type_code, rng.randrange(2**16), length) + payload
    return b"\x00" + cobs_encode(raw + crc16(raw).to_bytes(2, "big")) + b"\x00"


def _random_stream(rng: random.Random) -> bytes:
    out = bytearray()
    for _ in range(rng.randint(1, 6)):
        piece = rng.random()
        if piece < 0.3:
            out += _good_frame(rng)
        elif piece < 0.5:
            out += _hand_built(rng)
        elif piece < 0.65:  # a good frame with one byte damaged
            damaged = bytearray(_good_frame(rng))
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
            out += damaged
        elif piece < 0.75:  # cut short
            frame = _good_frame(rng)
            out += frame[: rng.randrange(len(frame))]
        elif piece < 0.85:  # a long run of noise without delimiters
            out += bytes(rng.randint(1, 255) for _ in range(rng.randint(250, 300)))
        else:
            out += rng.randbytes(rng.randint(1, 20))
    return bytes(out)


def test_firmware_decoder_agrees_with_python_on_noisy_streams(vectors_check: Path) -> None:
    rng = random.Random(20240611)  # fixed: a failure reproduces
    streams = [_random_stream(rng) for _ in range(400)]
    lines = [
        f"stream s{i} {data.hex().upper()} {_python_outcome(data)}"
        for i, data in enumerate(streams)
    ]
    code, out = _run(vectors_check, "\n".join(lines) + "\n")
    failures = [line for line in out if line.startswith("FAIL")]
    assert code == 0 and not failures, "\n".join(failures[:5])
    assert sum(line.startswith("ok   s") for line in out) == 2 * len(streams)  # hex + outcome
    # The streams exercised every counter, so agreement means something.
    joined = " ".join(lines)
    for counter_seen in ("reject/", "FEEDBACK/", "stats/0,"):
        assert counter_seen in joined
    totals = [sum(int(x.rsplit("stats/", 1)[1].split(",")[k]) for x in lines) for k in range(6)]
    assert all(totals), f"some counter never moved: {totals}"


def test_firmware_link_and_door_logic(link_check: Path) -> None:
    code, out = _run(link_check)
    failures = [line for line in out if line.startswith("FAIL")]
    assert code == 0 and not failures, "\n".join(failures)
    for expected in (
        "ok   link: identical bytes resent at 50 ms",
        "ok   link: 3 retries in all (4 transmissions)",
        "ok   link: same seq and content again: not delivered, counted duplicate",
        "ok   link: same seq, other content (peer restarted): delivered",
        "ok   door: lock released for exactly the pulse, then relocked on its own timer",
        "ok   door: opened while locked: forced-open raised",
        "ok   door: held-open raised at 60 s",
        "ok   scan: 256 bytes is dropped, not truncated",
    ):
        assert expected in out
    passed, failed = _summary(out)
    assert failed == 0 and passed >= 40


@pytest.mark.parametrize("board", ["ESP32", "__AVR__"])
def test_sketch_compiles_against_declared_arduino_api(board: str) -> None:
    # host_test/arduino_stub declares (never defines) the Arduino, SPI, MFRC522,
    # SoftwareSerial and avr/wdt calls the sketch makes: a syntax and type check only.
    assert GXX is not None
    result = subprocess.run(
        [
            GXX,
            *CXXFLAGS,
            "-fsyntax-only",
            f"-D{board}",
            f"-I{HOST_TEST / 'arduino_stub'}",
            "-x",
            "c++",
            str(SKETCH / "toolhut_controller.ino"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


AVR_GXX = shutil.which("avr-g++")
AVR_SIZE = shutil.which("avr-size")
# Static RAM the portable parts may take on a Nano (2048 bytes): the Arduino core's serial
# buffers, SoftwareSerial, MFRC522 and the stack need the rest.
AVR_RAM_BUDGET = 1300


@pytest.mark.skipif(
    AVR_GXX is None or AVR_SIZE is None,
    reason="avr-g++/avr-size NOT FOUND: the Arduino Nano RAM budget was NOT "
    "checked (apt-get install gcc-avr avr-libc)",
)
def test_portable_parts_fit_an_arduino_nano(tmp_path: Path) -> None:
    assert AVR_GXX is not None and AVR_SIZE is not None
    elf = tmp_path / "avr.elf"
    build = subprocess.run(
        [
            AVR_GXX,
            "-std=c++11",
            "-mmcu=atmega328p",
            "-Os",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-ffunction-sections",
            "-fdata-sections",
            "-Wl,--gc-sections",
            "-o",
            str(elf),
            str(HOST_TEST / "avr_ram_main.cpp"),
            str(SKETCH / "wire.cpp"),
            str(SKETCH / "link.cpp"),
            str(SKETCH / "hut_logic.cpp"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    size = subprocess.run(
        [AVR_SIZE, "-A", str(elf)], capture_output=True, text=True, check=True, timeout=30
    )
    sections = {
        parts[0]: int(parts[1])
        for parts in map(str.split, size.stdout.splitlines())
        if len(parts) >= 2 and parts[0] in (".data", ".bss") and parts[1].isdigit()
    }
    ram = sum(sections.values())
    assert 0 < ram <= AVR_RAM_BUDGET, f"static RAM {ram} bytes: {sections}"
