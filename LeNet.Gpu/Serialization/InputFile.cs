namespace LeNet.Gpu.Serialization;

/// <summary>
/// Reads a whole input file (a model, a checkpoint, an image) with a size cap, failing in one line that names the
/// file: a directory, a missing file, or something endless such as <c>/dev/zero</c> never reaches a parser or
/// exhausts memory.
/// </summary>
public static class InputFile
{
    /// <summary>The cap for model and checkpoint files (a model is 247 KB; a checkpoint with Adam's state about 750 KB).</summary>
    public const long ModelLimit = 64L << 20;

    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="IOException">A directory, a file over <paramref name="maxBytes"/>, or a read error.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException($"an empty path was given for {what}");
        if (Directory.Exists(path)) throw new IOException($"{path} is a folder, not {what}");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        var info = new FileInfo(path);
        if (info.Length > maxBytes) throw new IOException($"{path}: {info.Length:N0} bytes, more than the {maxBytes:N0} allowed for {what}");
        // A regular file says how long it is: read it in one allocation. Pipes and devices report 0: stream them.
        if (info.Length > 0) return File.ReadAllBytes(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                throw new IOException($"{path}: more than {maxBytes:N0} bytes, too large for {what}");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
