namespace LeNet.Gpu.Data;

/// <summary>
/// Reads a whole input file (a model, a checkpoint, an image) with a size cap, failing in one line that names the
/// file: a directory, a missing file, a FIFO that would wait for a writer or a device such as <c>/dev/zero</c> that
/// never ends never reaches a parser or exhausts memory.
/// </summary>
public static class InputFile
{
    /// <summary>The cap for model and checkpoint files (a model is 247 KB; a checkpoint with Adam's state about 750 KB).</summary>
    public const long ModelLimit = 64L << 20;

    /// <summary>
    /// "PATH: no such file", or, for a name holding bytes that are not UTF-8 (.NET shows them as U+FFFD and cannot
    /// give such a name back to the file system), that it must be renamed: the file may well be there.
    /// </summary>
    public static string NotFound(string path, string what = "file") => path.Contains('\uFFFD')
        ? $"{path}: cannot be opened: the name holds bytes that are not UTF-8 (shown as \uFFFD), which .NET cannot pass back to the file system; rename it"
        : $"{path}: no such {what}";

    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="IOException">A directory, a device, FIFO or socket, a file over <paramref name="maxBytes"/>, or a read error.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException($"an empty path was given for {what}");
        if (Directory.Exists(path)) throw new IOException($"{path} is a folder, not {what}");
        if (!File.Exists(path)) throw new FileNotFoundException(NotFound(path), path);
        // A FIFO would wait for a writer, perhaps for ever, and a device may never end: only regular files are read.
        var kind = FileKinds.Of(path);
        if (FileKinds.IsSpecial(kind)) throw new IOException($"{path}: {FileKinds.Describe(kind)}, not a regular file; {what} must be a regular file");
        var info = new FileInfo(path);
        if (info.Length > maxBytes) throw new IOException($"{path}: {info.Length:N0} bytes, more than the {maxBytes:N0} allowed for {what}");
        return File.ReadAllBytes(path);
    }
}
