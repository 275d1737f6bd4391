/** A refusal or failure, announced to screen readers; renders nothing without a message. */
export function ErrorAlert({ message, testId }: { message: string | null | undefined; testId?: string }) {
  if (!message) return null;
  return (
    <p role="alert" className="alert" data-testid={testId}>
      {message}
    </p>
  );
}
