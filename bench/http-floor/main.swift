// `make bench` only: the memory floor of the HTTP stack the server is built on. A Hummingbird 2
// application with one route on a Unix socket and nothing else (no trackers, no store, no
// config): the idle RSS bench/run.py sets beside the server's, so the server's own cost shows.
import Hummingbird

let path = CommandLine.arguments.dropFirst().first ?? "/tmp/eunomia-bench-http-floor.sock"
let router = Router()
router.get("/api/v1/health") { _, _ in "{\"status\":\"ok\"}" }
let app = Application(router: router, configuration: .init(address: .unixDomainSocket(path: path)))
try await app.runService()
