"""Trust controls: maintenance windows and silences, the automation pause, and the breakers
that bound how many actions, fix proposals and model spend automation may use."""
