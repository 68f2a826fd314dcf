import CHostSupport
import EunomiaPackages
import EunomiaRecords
import EunomiaSchema
import Foundation
import Logging

/// Process-wide logging: swift-log to stderr, and libbpf's global print callback routed into it.
/// The host owns libbpf's callback; plugins never set it.
public enum HostLogging {
    private static let lock = NSLock()
    private static var done = false

    public static func bootstrap(level: Logger.Level) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        eh_install_libbpf_logger(libbpfSink)
    }
}

private let libbpfLogger = Logger(label: "libbpf")

private let libbpfSink: @convention(c) (Int32, UnsafePointer<CChar>?) -> Void = { level, line in
    guard let line else { return }
    let message = Logger.Message(stringLiteral: String(cString: line))
    switch level {
    case 0: libbpfLogger.warning(message)
    case 1: libbpfLogger.info(message)
    default: libbpfLogger.debug(message)
    }
}
