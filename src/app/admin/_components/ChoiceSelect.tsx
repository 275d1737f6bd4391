'use client';
/** A required select over a list that may still be loading or empty, saying which. */

export interface Choice {
  value: string;
  label: string;
}

export function ChoiceSelect({
  id,
  label,
  value,
  onChange,
  choices,
  noun,
  article,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** Undefined while loading. */
  choices: Choice[] | undefined;
  /** "user", "app": for "Loading users…", "No users yet". */
  noun: string;
  /** Said by sound, not spelling ("a user", "an app"), so the caller gives it. */
  article: 'a' | 'an';
}) {
  const prompt = choices === undefined ? `Loading ${noun}s…` : choices.length === 0 ? `No ${noun}s yet` : `Choose ${article} ${noun}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required>
        <option value="">{prompt}</option>
        {(choices ?? []).map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
    </div>
  );
}
