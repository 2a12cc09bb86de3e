using System.Diagnostics;
using System.Net.Sockets;

namespace LeNet.Gpu.Tests.Robustness;

/// <summary>Special files made with the system's own tools, and what <c>stat</c> says a path is.</summary>
public static class FileSystem
{
    public static void MakeFifo(string path) => Run("mkfifo", path);

    /// <summary>A character device equal to /dev/null (major 1, minor 3); false when not root (mknod needs it).</summary>
    public static bool TryMakeNullDevice(string path)
    {
        if (!Environment.IsPrivilegedProcess) return false;
        Run("mknod", "-m", "666", path, "c", "1", "3");
        return true;
    }

    /// <summary>A Unix domain socket bound at <paramref name="path"/>; .NET deletes the file when it is disposed.</summary>
    public static Socket MakeSocket(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary><c>stat -c %F</c> without following a link: "regular file", "fifo", "socket", "symbolic link", …</summary>
    public static string KindOf(string path) => Run("stat", "-c", "%F", path).Trim();

    /// <summary>A process id that no running process has (one that has just exited).</summary>
    public static int DeadProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }

    private static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)}: {errors}");
        return output;
    }
}
