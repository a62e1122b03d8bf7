"""Web chat UI entry point. The Gradio UI is not built yet (issue: "Gradio chat web UI");
until then, use the command line (`amqa ask`) or the Python API (`from amqa import answer`)."""
import sys

if __name__ == "__main__":
    print("amqa: the web UI is not built yet. Ask from the command line instead:\n"
          "  amqa ask \"Combien d'apprentis sont formés à Arts et Métiers ?\"", file=sys.stderr)
    sys.exit(1)
