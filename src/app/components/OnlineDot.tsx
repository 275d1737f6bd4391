/** A device's online state: a coloured dot and the word, so it does not rely on colour alone. */
export function OnlineDot({ online }: { online: boolean }) {
  return (
    <span className={`online-state ${online ? 'is-online' : 'is-offline'}`} data-testid="online-state">
      <span className="dot" aria-hidden="true" />
      {online ? 'online' : 'offline'}
    </span>
  );
}
