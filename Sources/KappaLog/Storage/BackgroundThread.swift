#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated OS thread, for blocking work that must stay off Swift's cooperative pool (the fsync flusher).
final class BackgroundThread: Sendable {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    // The pthread handle is written once before `start` returns and read by `join` only.
    private nonisolated(unsafe) var thread = pthread_t()

    private init() {}

    static func start(_ run: @escaping @Sendable () -> Void) throws(LogError) -> BackgroundThread {
        let handle = BackgroundThread()
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        let status = pthread_create(&handle.thread, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            var error = LogError(code: .systemCallFailed, message: "cannot start a thread")
            error.systemCall = "pthread_create"
            error.errno = status
            throw error
        }
        return handle
    }

    func join() {
        pthread_join(thread, nil)
    }
}
