import PersonaKit

/// Warnings for personas on models their provider has retired, naming what replaces them.
public enum RetiredModels {
    public static func warnings(_ uses: [(persona: String, model: ModelRef)], catalog: PriceCatalog,
                                today: String = PriceUpdate.localDay()) -> [String] {
        var seen: Set<ModelRef> = []
        return uses.compactMap { persona, model in
            guard let price = catalog.price(for: model), price.isRetired(on: today), let retired = price.retired,
                  seen.insert(model).inserted else { return nil }
            let users = uses.filter { $0.model == model }.map(\.persona).joined(separator: ", ")
            let instead = catalog.replacement(for: model, on: today).map { "; use \($0) instead (model: in the persona file, or default_model)" }
                ?? "; choose another model"
            return "\(model) was retired on \(retired) (used by \(users))\(instead)"
        }
    }
}
