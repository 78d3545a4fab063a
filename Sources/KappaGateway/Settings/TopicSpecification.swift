import Foundation
import KappaCore

/// `TEMPLATE[=FORMAT]` of `--topic`, `KAPPA_TOPICS` and the file's `topics`. `line_protocol+device_tag`
/// lets the lines' `device` tag name the device, for a trusted aggregator that speaks for many.
enum TopicSpecification {
    static let deviceTagSuffix = "+device_tag"

    static func routes(_ texts: [String]) throws(SettingsError) -> [TopicRoute] {
        var routes: [TopicRoute] = []
        for text in texts {
            var template = text
            var format: PayloadFormat? = nil
            var deviceTag = false
            if let equals = text.lastIndex(of: "=") {
                template = String(text[..<equals])
                var name = String(text[text.index(after: equals)...])
                if name.hasSuffix(deviceTagSuffix) {
                    name.removeLast(deviceTagSuffix.count)
                    deviceTag = true
                }
                guard let known = PayloadFormat(rawValue: name.replacingOccurrences(of: "-", with: "_")) else {
                    throw SettingsError("unknown payload format '\(name)' for \(template): use \(PayloadFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                guard !deviceTag || known == .lineProtocol else {
                    throw SettingsError("'\(deviceTagSuffix)' for \(template) goes only with line_protocol, whose lines carry a device tag")
                }
                format = known
            }
            do {
                routes.append(try TopicRoute(template, format: format, lineProtocolDeviceTag: deviceTag))
            } catch {
                throw SettingsError("topic template '\(template)': \(error)")
            }
        }
        return routes
    }
}
