import KappaCore

/// The receive time used throughout: one minute after the `ts` of the sample payloads.
let sampleTS: Int64 = 1_732_400_000_000
let receivedAt = Timestamp(millisecondsSinceEpoch: sampleTS + 60_000)

struct Decoded {
    var readings: [Reading] = []
    var problems: [DecodeProblem] = []

    var reasons: [DeadLetterReason] { problems.map(\.reason) }
    var values: [String: Double] {
        Dictionary(readings.map { ($0.metric, $0.value) }, uniquingKeysWith: { first, _ in first })
    }
}

func decode(
    _ payload: [UInt8], format: PayloadFormat = .json, device: String = "d1", metric: String? = nil, tags: [Tag] = [],
    lineProtocolDeviceTag: Bool = false, limits: DecodingLimits = .default, at time: Timestamp = receivedAt
) -> Decoded {
    var result = Decoded()
    let match = TopicMatch(format: format, device: device, metric: metric, tags: tags, lineProtocolDeviceTag: lineProtocolDeviceTag)
    PayloadDecoder(limits: limits).decode(match: match, payload: payload, receivedAt: time, into: &result.readings, problems: &result.problems)
    return result
}

func decode(
    _ payload: String, format: PayloadFormat = .json, device: String = "d1", metric: String? = nil, tags: [Tag] = [],
    lineProtocolDeviceTag: Bool = false, limits: DecodingLimits = .default, at time: Timestamp = receivedAt
) -> Decoded {
    decode(Array(payload.utf8), format: format, device: device, metric: metric, tags: tags, lineProtocolDeviceTag: lineProtocolDeviceTag, limits: limits, at: time)
}

