import Foundation

/// Loopback sockets made with the raw socket API, so the test process itself is what the
/// kernel sees connecting, binding and closing.
enum Loopback {
    enum Family { case v4, v6 }

    /// A socket bound to 127.0.0.1 or ::1 on `port` (0: the kernel picks); returns fd and port.
    static func bound(_ family: Family, type: Int32, port: UInt16 = 0) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(family == .v4 ? AF_INET : AF_INET6, type, 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = address(family, port: port)
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length(family)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw POSIXError(.init(rawValue: e)!)
        }
        return (fd, localPort(fd))
    }

    /// Connects to a listener on the same family's loopback address; returns the client fd.
    static func connect(_ family: Family, port: UInt16) throws -> Int32 {
        let fd = socket(family == .v4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var storage = address(family, port: port)
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length(family)) }
        }
        guard rc == 0 else { throw POSIXError(.init(rawValue: errno)!) }
        return fd
    }

    /// Listener, client connect, accept, then close client, accepted and listener; returns
    /// (listener port, client port).
    static func roundTrip(_ family: Family) throws -> (server: UInt16, client: UInt16) {
        let (listener, port) = try bound(family, type: Int32(SOCK_STREAM.rawValue))
        defer { close(listener) }
        guard listen(listener, 4) == 0 else { throw POSIXError(.init(rawValue: errno)!) }
        let client = try connect(family, port: port)
        let clientPort = localPort(client)
        let accepted = accept(listener, nil, nil)
        close(client)
        if accepted >= 0 { close(accepted) }
        return (port, clientPort)
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let isV4 = storage.ss_family == sa_family_t(AF_INET)
        return withUnsafePointer(to: &storage) { p in
            isV4
                ? p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
                : p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
    }

    private static func length(_ family: Family) -> socklen_t {
        socklen_t(family == .v4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
    }

    private static func address(_ family: Family, port: UInt16) -> sockaddr_storage {
        var storage = sockaddr_storage()
        withUnsafeMutablePointer(to: &storage) { p in
            switch family {
            case .v4:
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    $0.pointee.sin_family = sa_family_t(AF_INET)
                    $0.pointee.sin_port = port.bigEndian
                    $0.pointee.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
                }
            case .v6:
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    $0.pointee.sin6_family = sa_family_t(AF_INET6)
                    $0.pointee.sin6_port = port.bigEndian
                    $0.pointee.sin6_addr = in6addr_loopback
                }
            }
        }
        return storage
    }
}
