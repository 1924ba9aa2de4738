package dev.chorus.backplane;

import java.sql.Connection;

/**
 * A backplane that can tie a message to a database transaction: peers hear it if and only if the
 * transaction commits, even if this replica dies right after the commit.
 *
 * <p>Features that announce changes to stored data (a cache invalidation, a registry update) use it when
 * the backplane offers it, so an announcement never runs ahead of a commit and is never lost after one.
 */
public interface TransactionalBackplane extends Backplane {

    /**
     * Publishes {@code message} when {@code transaction} commits, to every replica's subscribers of its topic
     * (this replica's included, after the commit); nothing is published if it rolls back.
     *
     * @throws dev.chorus.ChorusException when {@code transaction} is in auto-commit mode
     * @throws PublishFailedException when the message could not be added to the transaction
     */
    void publish(Connection transaction, Message message);
}
