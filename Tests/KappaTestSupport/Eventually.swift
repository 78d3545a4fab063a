/// Polls `condition` every `interval` until it holds or `timeout` passes; whether it held. A condition that
/// throws has not held yet: what it asks (a database, a log, an HTTP endpoint) may still be starting.
public func eventually(
    timeout: Duration, every interval: Duration = .milliseconds(200), _ condition: () async throws -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: interval)
    }
    return (try? await condition()) == true
}
