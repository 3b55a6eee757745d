/**
 * What the failure codes of file-transfer and folder-zip (and a dropped connection) mean, in words
 * for the person who reads the notification; the protocol's own reason text is for logs.
 */
const FAILURE_REASONS: Readonly<Record<string, string>> = {
  NOT_ALLOWED: 'this agent does not accept transfers from that peer',
  BAD_NAME: 'the name is not safe to save here',
  BAD_META: 'the sender announced it in a form this agent does not understand',
  TOO_LARGE: 'it is bigger than this agent accepts (see its size limits)',
  NO_SPACE: 'there is not enough free disk space',
  PROTOCOL: 'the sender broke the transfer protocol',
  HASH_MISMATCH: 'the data arrived damaged (its checksum did not match), so it was discarded',
  CHANGED: 'the sender’s copy changed while it was being sent',
  CANCELLED: 'the sender cancelled it; a file resumes when sent again',
  SUPERSEDED: 'a newer transfer of the same file replaced it',
  IO_ERROR: 'it could not be written to disk',
  CONNECTION_LOST: 'the connection to the sender dropped; sending again resumes it',
  BAD_ZIP: 'the archive the sender streamed is not a valid ZIP',
  UNSAFE_ENTRY: 'it contains an entry that is not safe to extract (a link, a special file or an unsafe path)',
  CORRUPT: 'the data arrived damaged, so it was discarded',
  TRUNCATED: 'the sender stopped before the end',
  LIMIT: 'it exceeds this agent’s limits for folders (entries, size or compression)',
};

/** The plain-words reason for a failure code; an unknown code is named as it is. */
export function failureReason(code: unknown): string {
  const text = typeof code === 'string' ? FAILURE_REASONS[code] : undefined;
  return text ?? `it failed (${String(code)})`;
}
