namespace LeNet.Gpu.Data;

/// <summary>
/// A data file that cannot be used as it is: wrong magic number, truncated, inconsistent counts, labels out of
/// range, undecodable image. The message is one line naming the file and what is wrong, fit to show a user.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>The file at fault (the first one named, when two disagree).</summary>
    public string? FilePath { get; }

    public DataFormatException(string? filePath, string message, Exception? inner = null)
        : base(filePath is null ? message : $"{filePath}: {message}", inner)
    {
        FilePath = filePath;
    }

    private DataFormatException(string filePath, string wholeMessage, Exception? inner, bool _)
        : base(wholeMessage, inner)
    {
        FilePath = filePath;
    }

    /// <summary>For a message that names the file itself, elsewhere than at its start ("corrupt gzip data in FILE: …").</summary>
    public static DataFormatException Worded(string filePath, string wholeMessage, Exception? inner = null) =>
        new(filePath, wholeMessage, inner, false);
}

/// <summary>
/// A named dataset that is not on this machine, or could not be fetched. The message says what to run.
/// </summary>
public sealed class DataNotFoundException : Exception
{
    public DataNotFoundException(string message, Exception? inner = null) : base(message, inner) { }
}
