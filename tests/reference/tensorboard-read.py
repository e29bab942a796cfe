#!/usr/bin/python3
"""An independent reader of TensorBoard event files, for tests/test-tensorboard.cpp.

    protoc --proto_path=tests/reference --python_out=DIR tests/reference/tensorboard_event.proto
    /usr/bin/python3 tests/reference/tensorboard-read.py --proto-dir DIR events.out.tfevents.* > events.json

Reads each file as TFRecords (uint64 little-endian length, masked CRC-32C of the 8 length bytes, the data,
masked CRC-32C of the data), checks both checksums with its own bit-at-a-time CRC-32C (not r1's table), parses
each record as an Event with Debian's python3-protobuf and checks that it serialises back to the same bytes
(a field outside tensorboard_event.proto, or a non-canonical encoding, would not). Prints JSON:
{"files": [{"path": ..., "events": [{"wall_time": w, "step": s, "file_version": ...} |
{..., "session_log": "START"} | {..., "values": [{"tag": t, "simple_value": v}]}]}]}.
Exit status 1, naming the file and byte offset, on any defect; 3 when the generated module cannot be imported.
"""
import argparse
import json
import struct
import sys


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_file(path, event_pb2):
    blob = open(path, "rb").read()
    events, offset = [], 0
    while offset < len(blob):
        where = f"{path}: record at byte {offset}"
        if offset + 12 > len(blob):
            sys.exit(f"{where}: truncated header ({len(blob) - offset} bytes left)")
        header = blob[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[offset + 8:offset + 12])
        if length_crc != masked(header):
            sys.exit(f"{where}: length checksum {length_crc:#010x}, expected {masked(header):#010x}")
        end = offset + 12 + length
        if end + 4 > len(blob):
            sys.exit(f"{where}: truncated data (length {length})")
        data = blob[offset + 12:end]
        (data_crc,) = struct.unpack("<I", blob[end:end + 4])
        if data_crc != masked(data):
            sys.exit(f"{where}: data checksum {data_crc:#010x}, expected {masked(data):#010x}")
        event = event_pb2.Event()
        event.ParseFromString(data)
        if event.SerializeToString() != data:
            sys.exit(f"{where}: the Event does not serialise back to its bytes (unknown field or odd encoding)")
        out = {"wall_time": event.wall_time, "step": event.step}
        kind = event.WhichOneof("what")
        if kind == "file_version":
            out["file_version"] = event.file_version
        elif kind == "session_log":
            out["session_log"] = event_pb2.SessionLog.SessionStatus.Name(event.session_log.status)
        elif kind == "summary":
            values = []
            for value in event.summary.value:
                if value.WhichOneof("value") != "simple_value":
                    sys.exit(f"{where}: summary value '{value.tag}' holds no simple_value")
                values.append({"tag": value.tag, "simple_value": value.simple_value})
            out["values"] = values
        else:
            sys.exit(f"{where}: an Event with no file_version, summary or session_log")
        events.append(out)
        offset = end + 4
    return {"path": path, "events": events}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-dir", required=True, help="where protoc wrote tensorboard_event_pb2.py")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    sys.path.insert(0, args.proto_dir)
    try:
        import tensorboard_event_pb2
    except Exception as error:  # no google.protobuf, or a runtime older than the protoc that generated the module
        print(f"cannot import the generated module: {error}", file=sys.stderr)
        sys.exit(3)
    print(json.dumps({"files": [read_file(path, tensorboard_event_pb2) for path in args.files]}))


if __name__ == "__main__":
    main()
