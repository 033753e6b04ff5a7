"""Resource tags (createTags, deleteTags, listTags, the ``tags`` of resource responses and list filters)."""
