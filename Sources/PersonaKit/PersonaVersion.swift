/// Persona's version, as `persona --version` prints it and the User-Agent sends it.
public enum PersonaVersion {
    public static let number = "0.9.0"
}
