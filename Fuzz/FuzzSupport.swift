import KappaCore

/// What every decoder target checks of what the decoder made: whatever the bytes, no trap, and every
/// reading it returns could be stored (its names within `NameLimits`, its value finite).
func checkDecoded(_ readings: [Reading], _ problems: [DecodeProblem], limits: DecodingLimits) {
    for reading in readings {
        precondition(reading.value.isFinite, "a non-finite value became a reading")
        precondition(NameLimits.flaw(in: reading.metric, maxBytes: limits.names.maxMetricBytes) == nil, "a bad metric name became a reading")
        precondition(NameLimits.flaw(in: reading.device, maxBytes: limits.names.maxDeviceBytes) == nil, "a bad device id became a reading")
        precondition(reading.tags.count <= limits.names.maxTags, "too many tags on a reading")
        for tag in reading.tags {
            precondition(NameLimits.flaw(in: tag.key, maxBytes: limits.names.maxTagKeyBytes) == nil, "a bad tag key became a reading")
            precondition(NameLimits.flaw(in: tag.value, maxBytes: limits.names.maxTagValueBytes) == nil, "a bad tag value became a reading")
        }
    }
    // Whatever went wrong, it must fit one bounded dead letter.
    if !problems.isEmpty {
        let letter = DeadLetter(topic: "fuzz", payload: [], receivedAt: fuzzReceivedAt, problems: problems)
        precondition(letter.message.utf8.count < 4_096, "a dead letter's message is not bounded")
        precondition(!letter.message.utf8.contains(0), "a dead letter's message holds a NUL, which PostgreSQL text cannot store")
    }
}

let fuzzReceivedAt = Timestamp(nanosecondsSinceEpoch: 1_732_400_000_000_000_000)

/// Runs `decode` on the fuzzer's bytes with the given topic match and checks the result.
func fuzzDecode(_ data: UnsafePointer<UInt8>, _ size: Int, match: TopicMatch) {
    let limits = DecodingLimits.default
    let decoder = PayloadDecoder(limits: limits)
    var readings: [Reading] = []
    var problems: [DecodeProblem] = []
    decoder.decode(match: match, payload: UnsafeRawBufferPointer(start: data, count: size), receivedAt: fuzzReceivedAt, into: &readings, problems: &problems)
    checkDecoded(readings, problems, limits: limits)
    precondition(!readings.isEmpty || !problems.isEmpty, "a message made neither readings nor problems")
}
