import Dispatch

/// Runs blocking work (fsync, joining a thread, opening and recovering the log) on a dispatch queue, off
/// Swift's cooperative pool, whose few threads (one per core) must never wait on the kernel.
public enum Blocking {
    public static func run<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    /// For work that cannot fail.
    public static func run(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                work()
                continuation.resume()
            }
        }
    }
}
