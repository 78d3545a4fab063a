/// Where the anomaly processor announces new episodes beyond PostgreSQL's `NOTIFY` (MQTT, for `kappa run`).
///
/// Called on the processor's task right after the checkpoint that first wrote the episodes committed, so an
/// episode is announced only once it is in the database; after a crash the episodes of the lost checkpoint are
/// announced again when they are committed again (at least once). Must not block: hand the work off.
public protocol AnomalyAlertSink: Sendable {
    func announce(_ episodes: [AnomalyEpisode])
}
