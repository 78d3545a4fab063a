/// What the simulator injects into a device's signal; the raw value is the ground-truth `kind`.
public enum AnomalyKind: String, CaseIterable, Sendable {
    /// One reading far above the baseline.
    case spike
    /// One reading far below the baseline.
    case dip
    /// The baseline jumps and stays there for a while.
    case levelShift = "level_shift"
    /// The baseline moves away linearly for a while.
    case drift
    /// The sensor repeats one value.
    case stuck
    /// The whole device is silent (metric `*`).
    case dropout
    /// The noise grows many times larger for a while.
    case noiseBurst = "noise_burst"

    /// Whether the anomaly lasts several readings (else exactly one).
    var lastsSeveralReadings: Bool { self != .spike && self != .dip }
}

/// Transport faults the simulator injects; the raw value is the ground-truth `kind`.
public enum ChaosKind: String, CaseIterable, Sendable {
    /// The same message sent twice.
    case duplicate
    /// A message sent after the device's next one.
    case outOfOrder = "out_of_order"
    /// A message held back for minutes (`start` its event time, `end` when it was sent).
    case late
    /// The device's clock runs off by `offset_ms` for a while; its timestamps carry the error.
    case clockSkew = "clock_skew"
    /// An extra message the gateway must dead-letter (`reason` says why).
    case malformed
    /// An extra message larger than the gateway's payload limit.
    case oversized
}
