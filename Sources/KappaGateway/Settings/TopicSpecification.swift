import Foundation
import KappaCore

/// `TEMPLATE[=FORMAT][;MAPPING OPTION=VALUE…]` of `--topic`, `KAPPA_TOPICS` and the file's `topics`.
/// `line_protocol+device_tag` lets the lines' `device` tag name the device, for a trusted aggregator that
/// speaks for many; options after `;` are a JSON route's payload mapping (docs/payload-mapping.md).
enum TopicSpecification {
    static let deviceTagSuffix = "+device_tag"

    static func routes(_ texts: [String]) throws(SettingsError) -> [TopicRoute] {
        var routes: [TopicRoute] = []
        for specification in texts {
            let text = specification.prefix { $0 != ";" }
            var mapping: PayloadMapping? = nil
            if text.count < specification.count {
                do { mapping = try PayloadMapping(options: specification.dropFirst(text.count + 1)) } catch {
                    throw SettingsError("payload mapping of \(text): \(error)")
                }
            }
            var template = String(text)
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
            guard mapping == nil || format == .json else {
                throw SettingsError("a payload mapping for \(template) needs the json format (\(template)=json;…)")
            }
            do {
                routes.append(try TopicRoute(template, format: format, lineProtocolDeviceTag: deviceTag, mapping: mapping))
            } catch {
                throw SettingsError("topic template '\(template)': \(error)")
            }
        }
        return routes
    }
}
