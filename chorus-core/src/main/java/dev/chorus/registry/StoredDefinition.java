package dev.chorus.registry;

/**
 * A definition as the store holds it.
 *
 * @param id the definition's id within its registry
 * @param version grows on every save, across deletes and re-creates, so a newer definition always has a
 *     larger version
 * @param body the encoded definition
 */
public record StoredDefinition(String id, long version, byte[] body) {}
