import Foundation
import KappaCore

/// `TEMPLATE[=FORMAT]` of `--topic`, `KAPPA_TOPICS` and the file's `topics`.
enum TopicSpecification {
    static func routes(_ texts: [String]) throws(SettingsError) -> [TopicRoute] {
        var routes: [TopicRoute] = []
        for text in texts {
            var template = text
            var format: PayloadFormat? = nil
            if let equals = text.lastIndex(of: "=") {
                template = String(text[..<equals])
                let name = String(text[text.index(after: equals)...])
                guard let known = PayloadFormat(rawValue: name.replacingOccurrences(of: "-", with: "_")) else {
                    throw SettingsError("unknown payload format '\(name)' for \(template): use \(PayloadFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                format = known
            }
            do {
                routes.append(try TopicRoute(template, format: format))
            } catch {
                throw SettingsError("topic template '\(template)': \(error)")
            }
        }
        return routes
    }
}
