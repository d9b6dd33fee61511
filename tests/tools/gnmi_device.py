#!/usr/bin/python3
"""A scripted gNMI device for akvo's tests: answers Subscribe in mode ONCE with the leaves of an
OpenConfig, IETF, Nokia SR Linux or Nokia SR OS router, optionally over TLS and checking a username and password sent as
gRPC metadata. The Python stubs are generated at start from the vendored protos
(third_party/gnmi) with grpc_tools.protoc into a temporary folder.

  gnmi_device.py --port 9339 --model openconfig [--tls-cert C --tls-key K]
                 [--username U --password P] [--refuse-json-ietf]

A subscription path the device does not have is answered NOT_FOUND when none of the paths of
the request is known (as a device of another model would); the json_ietf encoding is refused
with UNIMPLEMENTED under --refuse-json-ietf. Each request is logged on stderr.
"""
import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent import futures

import grpc


def load_stubs(proto_dir):
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="akvo-gnmi-stubs-")
    rc = protoc.main([
        "protoc", f"-I{proto_dir}", "-I/usr/include", f"--python_out={out}",
        f"--grpc_python_out={out}",
        os.path.join(proto_dir, "gnmi.proto"), os.path.join(proto_dir, "gnmi_ext.proto")
    ])
    if rc != 0:
        sys.exit(f"gnmi_device: protoc failed ({rc})")
    sys.path.insert(0, out)
    import gnmi_pb2  # noqa: E402
    import gnmi_pb2_grpc  # noqa: E402
    shutil.rmtree(out, ignore_errors=True)  # loaded: the files are no longer needed
    return gnmi_pb2, gnmi_pb2_grpc


def E(elem, **keys):
    return (elem, keys)


# Leaves: (path elements with keys, value). Module prefixes on the first element of a module,
# as devices send them in json_ietf.
OPENCONFIG = [
    ([E("system"), E("config"), E("hostname")], "oc-router.example.net"),
    ([E("interfaces"), E("interface", name="Ethernet1"), E("state"), E("ifindex")], 5),
    ([E("interfaces"), E("interface", name="Ethernet1"), E("state"), E("description")],
     "Transit: Cogent"),
    ([E("interfaces"), E("interface", name="Ethernet1"), E("ethernet"), E("state"),
      E("port-speed")], "openconfig-if-ethernet:SPEED_10GB"),
    ([E("interfaces"), E("interface", name="Ethernet1"), E("subinterfaces"),
      E("subinterface", index="0"), E("state"), E("ifindex")], 501),
    ([E("interfaces"), E("interface", name="Ethernet1"), E("subinterfaces"),
      E("subinterface", index="0"), E("state"), E("name")], "Ethernet1.0"),
    ([E("interfaces"), E("interface", name="Ethernet1"), E("subinterfaces"),
      E("subinterface", index="0"), E("state"), E("description")], "Transit: Cogent (v4)"),
    ([E("interfaces"), E("interface", name="Ethernet2"), E("state"), E("ifindex")], 6),
    ([E("interfaces"), E("interface", name="Ethernet2"), E("state"), E("description")],
     "PNI: Netflix"),
    ([E("interfaces"), E("interface", name="Ethernet2"), E("ethernet"), E("state"),
      E("negotiated-port-speed")], "SPEED_100GB"),
]

IETF = [
    ([E("system"), E("hostname")], "ietf-router.example.net"),
    ([E("interfaces"), E("interface", name="eth0"), E("name")], "eth0"),
    ([E("interfaces"), E("interface", name="eth0"), E("if-index")], 3),
    ([E("interfaces"), E("interface", name="eth0"), E("description")], "Core: par-2"),
    # ietf-interfaces speed is a uint64 in bps: a string in json_ietf (RFC 7951 6.1).
    ([E("interfaces"), E("interface", name="eth0"), E("speed")], "10000000000"),
]

# Nokia SR Linux: names are the interface key, speeds human ("100G"), LAG speed in bps.
SRLINUX = [
    ([E("system"), E("name"), E("host-name")], "srl-leaf1"),
    ([E("interface", name="ethernet-1/1"), E("ifindex")], 16382),
    ([E("interface", name="ethernet-1/1"), E("description")], "Transit: Cogent"),
    ([E("interface", name="ethernet-1/1"), E("ethernet"), E("port-speed")], "100G"),
    ([E("interface", name="ethernet-1/1"), E("subinterface", index="0"), E("ifindex")], 16383),
    ([E("interface", name="ethernet-1/1"), E("subinterface", index="0"), E("name")],
     "ethernet-1/1.0"),
    ([E("interface", name="ethernet-1/1"), E("subinterface", index="0"), E("description")],
     "Transit: Cogent (v4)"),
    ([E("interface", name="lag1"), E("ifindex")], 1081343),
    ([E("interface", name="lag1"), E("description")], "PNI: Google"),
    ([E("interface", name="lag1"), E("lag"), E("lag-speed")], "200000000000"),
]

# Nokia SR OS: indexes and speeds under /state, descriptions under /configure, joined by the
# port-id and lag-name keys; port speed in Mbps, LAG bandwidth in bps.
SROS = [
    ([E("configure"), E("system"), E("name")], "sr-pe1"),
    ([E("state"), E("port", **{"port-id": "1/1/c1/1"}), E("if-index")], 1610899520),
    ([E("configure"), E("port", **{"port-id": "1/1/c1/1"}), E("description")], "Transit: Lumen"),
    ([E("state"), E("port", **{"port-id": "1/1/c1/1"}), E("ethernet"), E("oper-speed")], 100000),
    ([E("state"), E("lag", **{"lag-name": "lag-1"}), E("if-index")], 1342177281),
    ([E("configure"), E("lag", **{"lag-name": "lag-1"}), E("description")], "PNI: Netflix"),
    ([E("state"), E("lag", **{"lag-name": "lag-1"}), E("bandwidth")], "400000000000"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", choices=["openconfig", "ietf", "srlinux", "sros"],
                    default="openconfig")
    ap.add_argument("--proto-dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "third_party", "gnmi"))
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca", help="require a client certificate signed by this CA")
    ap.add_argument("--username")
    ap.add_argument("--password")
    ap.add_argument("--refuse-json-ietf", action="store_true")
    # A gateway: answers only for this device, named by the request's prefix target.
    ap.add_argument("--require-target")
    args = ap.parse_args()
    pb, pb_grpc = load_stubs(args.proto_dir)
    leaves = {"openconfig": OPENCONFIG, "ietf": IETF, "srlinux": SRLINUX, "sros": SROS}[args.model]

    def to_path(elems):
        p = pb.Path()
        for name, keys in elems:
            e = p.elem.add()
            e.name = name
            for k, v in keys.items():
                e.key[k] = v
        return p

    class Device(pb_grpc.gNMIServicer):

        def Subscribe(self, request_iterator, context):
            md = dict(context.invocation_metadata())
            if args.username and (md.get("username") != args.username or
                                  md.get("password") != args.password):
                print("gnmi_device: refused credentials", file=sys.stderr, flush=True)
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad username or password")
            req = next(request_iterator)
            sub = req.subscribe
            paths = ["/" + "/".join(e.name for e in s.path.elem) for s in sub.subscription]
            print(f"gnmi_device: mode={sub.mode} encoding={sub.encoding} paths={paths}",
                  file=sys.stderr, flush=True)
            if args.require_target and sub.prefix.target != args.require_target:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              f"unknown target \"{sub.prefix.target}\"")
            if sub.mode != pb.SubscriptionList.ONCE:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, "only ONCE")
            if sub.encoding == pb.JSON_IETF and args.refuse_json_ietf:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, "unsupported encoding JSON_IETF")
            if sub.encoding not in (pb.JSON, pb.JSON_IETF):
                context.abort(grpc.StatusCode.UNIMPLEMENTED, "unsupported encoding")
            matched = [(elems, v) for elems, v in leaves
                       if "/" + "/".join(n for n, _ in elems) in paths]
            if not matched:
                context.abort(grpc.StatusCode.NOT_FOUND, "no such path")
            for elems, value in matched:
                resp = pb.SubscribeResponse()
                n = resp.update
                n.timestamp = time.time_ns()
                if sub.prefix.target:
                    n.prefix.target = sub.prefix.target
                u = n.update.add()
                if sub.encoding == pb.JSON:
                    # One typed leaf per update.
                    u.path.CopyFrom(to_path(elems))
                    if isinstance(value, int):
                        u.val.uint_val = value
                    else:
                        u.val.string_val = value
                else:
                    # The container and a JSON object with the module-qualified leaf.
                    u.path.CopyFrom(to_path(elems[:-1]))
                    module = "openconfig-x" if args.model == "openconfig" else "ietf-x"
                    u.val.json_ietf_val = json.dumps({f"{module}:{elems[-1][0]}": value}).encode()
                yield resp
            yield pb.SubscribeResponse(sync_response=True)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_gNMIServicer_to_server(Device(), server)
    address = f"127.0.0.1:{args.port}"
    if args.tls_cert:
        with open(args.tls_key, "rb") as k, open(args.tls_cert, "rb") as c:
            if args.tls_client_ca:
                with open(args.tls_client_ca, "rb") as ca:
                    creds = grpc.ssl_server_credentials(
                        [(k.read(), c.read())], root_certificates=ca.read(),
                        require_client_auth=True)
            else:
                creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        server.add_secure_port(address, creds)
    else:
        server.add_insecure_port(address)
    server.start()
    print(f"gnmi_device: listening on {address}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
