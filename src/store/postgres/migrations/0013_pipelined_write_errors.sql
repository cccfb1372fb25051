-- Raised by statements that a writer batch sends without waiting for their answers
-- (Connection::Write) when the answer would have stopped the batch: an error, unlike a row,
-- stops the rest of the batch's pipeline, COMMIT included, so nothing of the batch is committed
-- and it runs again job by job, where each statement waits for its answer (docs/store.md,
-- "Writes without waiting"). The SQLSTATEs are webhookd's own (statements.hpp: WH001 a fan-out
-- that changed, WH002 a missing delivery). Running it again changes nothing.
CREATE OR REPLACE FUNCTION webhookd_fail(state text, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message;
END
$$;
