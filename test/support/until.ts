// Waits for a condition on the server's state, polling on the event loop: for
// effects with no event a client could wait on (an actor that stopped, a
// socket the server has let go). Fails after `timeoutMs` with `what`.
export async function until(condition: () => boolean, what = 'condition', timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
