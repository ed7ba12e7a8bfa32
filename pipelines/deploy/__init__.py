"""Running EngageFlow's services: the distributed topology on one machine, without Docker."""
