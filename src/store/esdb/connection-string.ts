// Checks ESDB_CONNECTION_STRING at configuration time, without the client and without
// connecting. The client reads the same string (TLS on unless `tls=false`); what is checked
// here is what authlog adds: production mode does not talk to the store in clear text.
// Messages never repeat the string: it may carry a password.

const SHAPE = /^esdb(\+discover)?:\/\/[^/?#\s]+\/?(\?[^#\s]*)?$/i;

export const esdbConnectionProblems = (
  connectionString: string,
  mode: 'development' | 'production',
): string[] => {
  if (!SHAPE.test(connectionString)) {
    return [
      'ESDB_CONNECTION_STRING must look like esdb://[user:password@]host:2113[?options] or esdb+discover://cluster-dns:2113[?options]',
    ];
  }
  const query = connectionString.includes('?')
    ? connectionString.slice(connectionString.indexOf('?') + 1)
    : '';
  // The client reads option names case-insensitively.
  const options = new Map(
    [...new URLSearchParams(query)].map(([key, value]) => [key.toLowerCase(), value.toLowerCase()]),
  );
  const problems: string[] = [];
  if (mode === 'production' && options.get('tls') === 'false') {
    problems.push(
      'ESDB_CONNECTION_STRING turns TLS off (tls=false); production mode needs TLS to the event store (use tlsCAFile=… for a private CA)',
    );
  }
  return problems;
};

/** A client error message with any `user:password@` taken out. */
export const withoutCredentials = (message: string): string =>
  message.replace(/\/\/[^@/\s]*@/g, '//***@');
