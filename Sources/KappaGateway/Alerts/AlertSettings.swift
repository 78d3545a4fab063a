/// Where anomaly alerts go besides `NOTIFY kappa_anomalies`: an MQTT topic and an HTTP webhook.
public struct AlertSettings: Sendable, Equatable {
    public enum WebhookFormat: String, CaseIterable, Sendable {
        /// One JSON object per episode.
        case json
        /// A list of alerts as Prometheus Alertmanager's `POST /api/v2/alerts` takes them.
        case alertmanager
    }

    /// Empty turns MQTT alerts off.
    public var topic: String
    public var webhookURL: WebhookURL?
    public var webhookFormat: WebhookFormat

    public init(topic: String = "alerts/{device}/{metric}", webhookURL: WebhookURL? = nil, webhookFormat: WebhookFormat = .json) {
        self.topic = topic
        self.webhookURL = webhookURL
        self.webhookFormat = webhookFormat
    }

    static func resolve(_ read: inout SettingReader) throws(SettingsError) -> AlertSettings {
        typealias Key = GatewaySettingsCatalog
        let webhook = try read.parse(Key.alertWebhook) { text throws(SettingsError) -> WebhookURL? in
            text.isEmpty ? nil : try WebhookURL(text)
        } ?? nil
        return AlertSettings(
            topic: try read.text(Key.alertTopic)!,
            webhookURL: webhook,
            webhookFormat: try read.parse(Key.alertWebhookFormat) { text throws(SettingsError) in
                guard let format = WebhookFormat(rawValue: text) else { throw SettingsError("use json or alertmanager, not '\(text)'") }
                return format
            }!
        )
    }
}
