using System.Text;

namespace LeNet.Gpu.Cli;

/// <summary>
/// stdout and stderr as writers that never throw: a stream that is closed (<c>2&gt;&amp;-</c>: .NET then writes to
/// whatever took descriptor 2 and gets EBADF), full (<c>/dev/full</c>) or whose reader went away (<c>| head -1</c>:
/// EPIPE) drops what is written to it from then on, and the failure is remembered. So a command finishes its work and
/// its files (a progress line cannot abort a training run), and <see cref="ExitCode"/> says that output was lost.
/// Installed once, before anything writes (Spectre's console takes <see cref="Console.Out"/> when first used).
/// </summary>
public static class ConsoleStreams
{
    /// <summary>The exit status of a command whose stdout reader went away, as if SIGPIPE had ended it (128 + 13).</summary>
    public const int BrokenPipe = 141;

    public static GuardedWriter Out { get; private set; } = new("stdout", Console.OpenStandardOutput);

    public static GuardedWriter Error { get; private set; } = new("stderr", Console.OpenStandardError);

    public static void Install()
    {
        Out = new GuardedWriter("stdout", () => Descriptor(1, Console.OpenStandardOutput));
        Error = new GuardedWriter("stderr", () => Descriptor(2, Console.OpenStandardError));
        Console.SetOut(Out);
        Console.SetError(Error);
    }

    /// <summary>
    /// The descriptor itself, not .NET's console stream: that one pretends a write into a broken pipe succeeded, so
    /// `predict DIR | head -1` would predict the whole folder for nobody.
    /// </summary>
    private static Stream Descriptor(int descriptor, Func<Stream> elsewhere) => OperatingSystem.IsWindows()
        ? elsewhere()
        : new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(descriptor, ownsHandle: false), FileAccess.Write, bufferSize: 0);

    /// <summary>Whether nothing written to stdout can reach anyone any more: work that only produces output may stop.</summary>
    public static bool OutputGone => Out.Failure is not null;

    /// <summary>
    /// A command's exit status once output was lost: a broken pipe is the reader's choice to stop (141, as SIGPIPE
    /// would give); any other lost output turns success into failure (1), said on the other stream where it still works.
    /// </summary>
    public static int ExitCode(int status)
    {
        if (Out.Failure is null && Error.Failure is null) return status;
        foreach (var (lost, other) in new[] { (Out, Error), (Error, Out) })
            if (lost.Failure is { } failure && !lost.IsBrokenPipe && other.Failure is null)
                other.WriteLine($"lenet: {lost.Name} could not be written ({(failure is UnauthorizedAccessException ? "closed, or not open for writing" : Common.Reason(failure))}); what was written there is lost");
        if (status != ExitCodes.Success) return status;
        return Out.IsBrokenPipe || Error.IsBrokenPipe ? BrokenPipe : ExitCodes.Failure;
    }
}

/// <summary>A console stream that drops writes after its first failure and remembers that failure.</summary>
public sealed class GuardedWriter(string name, Func<Stream> open) : TextWriter
{
    /// <summary>EPIPE's number on Linux and macOS: .NET gives it as the IOException's HResult.</summary>
    private const int EPipe = 32;

    private TextWriter? inner;

    public string Name { get; } = name;

    /// <summary>The first write failure, or null while every write has gone through.</summary>
    public Exception? Failure { get; private set; }

    public bool IsBrokenPipe => Failure is IOException { HResult: EPipe };

    public override Encoding Encoding { get; } = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    public override void Write(char value) => Guard(w => w.Write(value));

    public override void Write(string? value) => Guard(w => w.Write(value));

    public override void Write(char[] buffer, int index, int count) => Guard(w => w.Write(buffer, index, count));

    public override void WriteLine() => Guard(w => w.WriteLine());

    public override void WriteLine(string? value) => Guard(w => w.WriteLine(value));

    public override void Flush() => Guard(w => w.Flush());

    private void Guard(Action<TextWriter> write)
    {
        if (Failure is not null) return;
        try
        {
            // Opened on first use: opening a closed descriptor already fails (dup gives EBADF).
            inner ??= new StreamWriter(open(), Encoding, bufferSize: 256, leaveOpen: false) { AutoFlush = true };
            write(inner);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            Failure = e;
        }
    }
}
