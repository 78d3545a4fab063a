import KappaCore
import KappaLog
import KappaSparkplug

/// How `kappa dead-letters replay` decodes Sparkplug dead letters: with the births the log kept
/// (``SparkplugBirthHistory``), so data dead-lettered before its birth becomes the readings the birth that
/// answered it resolves.
public enum SparkplugDeadLetterDecoding {
    /// Reads `lifecycle` whole (blocks on the log) and returns the decoder: a dead letter's readings, or nil.
    public static func decoder(lifecycle: any LogStream, limits: DecodingLimits = .default) throws(LogError) -> @Sendable (DeadLetter) -> [Reading]? {
        var history = SparkplugBirthHistory()
        _ = try SparkplugLifecycleReading.forEach(in: lifecycle) { entry in
            history.add(topic: entry.topic, payload: entry.payload, receivedAt: entry.receivedAt)
        }
        let births = history
        let decoder = PayloadDecoder(limits: limits)
        return { letter in
            guard SparkplugIntake.claims(letter.topic),
                  var readings = births.readings(topic: letter.topic, payload: letter.payload, receivedAt: letter.receivedAt)
            else { return nil }
            var problems: [DecodeProblem] = []
            decoder.admit(&readings, from: 0, receivedAt: letter.receivedAt, problems: &problems)
            return problems.isEmpty ? readings : nil
        }
    }
}
