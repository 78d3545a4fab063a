import Dispatch

/// Runs blocking work (file I/O, joining libmosquitto's thread) off Swift's cooperative pool.
enum Offload {
    static func run<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result(catching: work))
            }
        }
    }
}
