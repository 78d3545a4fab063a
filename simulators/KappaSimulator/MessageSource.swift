/// Where a run's messages come from: the simulated fleet or a replayed recording.
public protocol MessageSource: Sequence, IteratorProtocol where Element == SimulatedMessage {
    /// Simulated time at which the source starts (the wall-clock origin in real-time runs).
    var startTime: Timestamp { get }
    /// Labels still open when the caller stops taking messages (see `Fleet.finish()`).
    mutating func finish() -> [GroundTruthLabel]
}

import KappaCore
